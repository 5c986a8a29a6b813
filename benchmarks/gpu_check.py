"""One GPU check: predict, LayerNorm-tuning training, MTCNN and a whole scan, each beside its
baseline in one run, printed as one JSON object (stdout; also ``--json PATH``).

    python benchmarks/gpu_check.py --device cuda --json gpu_check.json   # < 8 min, one H100/H200
    python benchmarks/gpu_check.py --device cpu --quick                  # tiny shapes (CI)

Every section runs under its own time limit and records its failure as ``{"error": ...}``
instead of stopping the run; a variant that cannot run here says ``unavailable`` and why. Each
entry of a section's ``entries`` gives ``per_s`` (in the section's ``unit``) and ``ratio`` =
``per_s`` / the ``per_s`` of the section's ``baseline`` entry; ``total_s`` counts from the
end of the imports (a few seconds). The sections (see gpu_sections.py):

- ``predict``: ``Detector.predict`` on a ViT-L/14-shaped detector with random weights
  (``--quick``: tiny-random) in fp32, bf16 weights, bf16 + ``torch.compile`` (the compiling call
  is not timed; its seconds are reported; ``--quick`` compiles with the ``eager`` backend, i.e.
  graph capture only) and ONNX Runtime on the device's execution provider (CUDA needs the
  onnxruntime-gpu package); baseline: the plain transformers CLIPVisionModel fp32 forward on
  ready pixels of the same batch. Also max |dP(fake)| of each against fp32.
- ``train``: the trainer's LayerNorm-tuning step (on-device preprocessing, CE + alignment +
  uniformity, AdamW) with bf16 autocast, images/s and peak CUDA memory; baseline: the same step
  in fp32, the precision bf16 replaces (full fine-tuning would mix two changes).
- ``mtcnn``: MTCNN on 1280x720 frames, a batch of frames per call; baseline: the same detector
  one frame per call.
- ``scan``: ``ScanPipeline.scan`` (decode, detect, align, classify) of generated 720p H.264
  videos with the runtime ``dfdetect scan`` picks (``auto``: torch bf16 on CUDA, ONNX Runtime on
  a CPU); baseline: the same scan with torch fp32 on the same device (a CPU scan of ViT-L/14
  would not fit the time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from gpu_sections import BODIES, describe, free_cuda, time_limit

from dfdetect import __version__
from dfdetect.model.device import resolve_device

SECTIONS = ("predict", "train", "mtcnn", "scan")


@dataclass(frozen=True)
class Plan:
    """Shapes, repeats and time limits of one run (defaults: the full GPU run)."""

    backbone: str = "vit-l14"
    predict_batch: int = 128
    iters: int = 10  # most timed rounds; fewer when a section's time runs short
    compile_backend: str = "inductor"
    train_batch: int = 128
    train_iters: int = 5
    mtcnn_frames: int = 64
    mtcnn_batch: int = 32
    scan_videos: int = 6
    scan_length: int = 75  # frames per generated video
    scan_frames: int = 16  # frames sampled per video
    scan_workers: int = 4
    scan_batch: int = 64
    limits_s: dict[str, float] = field(
        default_factory=lambda: {"predict": 180, "train": 100, "mtcnn": 50, "scan": 100}
    )


QUICK = Plan(
    backbone="tiny-random",
    predict_batch=8,
    iters=1,
    compile_backend="eager",
    train_batch=8,
    train_iters=1,
    mtcnn_frames=2,
    mtcnn_batch=2,
    scan_videos=2,
    scan_length=12,
    scan_frames=4,
    scan_workers=2,
    scan_batch=16,
    limits_s=dict.fromkeys(SECTIONS, 300),  # a safety net only: a loaded CI machine is slow
)


def device_facts(device: torch.device) -> dict:
    """Versions, the GPU and its memory, threads: what the figures were measured on."""
    facts: dict[str, object] = {
        "device": str(device),
        "dfdetect": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    for package in ("transformers", "onnxruntime"):
        try:
            facts[package] = __import__(package).__version__
        except ImportError:
            facts[package] = None
    if facts["onnxruntime"]:
        facts["onnxruntime_providers"] = __import__("onnxruntime").get_available_providers()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts.update(
            gpu=props.name,
            gpu_count=torch.cuda.device_count(),
            gpu_memory_gib=round(props.total_memory / 2**30, 2),
            compute_capability=f"{props.major}.{props.minor}",
            cudnn=torch.backends.cudnn.version(),
            bf16_supported=torch.cuda.is_bf16_supported(),
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
        )
    return facts


def run_section(
    name: str,
    body: Callable[[dict, Plan, torch.device, float], None],
    plan: Plan,
    device: torch.device,
) -> dict:
    """``body(out, plan, device, deadline)`` under the section's time limit; what it put in
    ``out`` before failing is kept, beside ``error``."""
    out: dict[str, object] = {}
    limit = plan.limits_s[name]
    start = time.monotonic()
    print(f"[gpu_check] {name} (limit {limit:.0f} s) ...", file=sys.stderr, flush=True)
    try:
        with time_limit(limit, f"section {name}"):
            body(out, plan, device, start + limit)
    except Exception as exc:  # one section failing must not lose the others
        out["error"] = describe(exc)
    finally:
        free_cuda(device)
    out["seconds"] = round(time.monotonic() - start, 1)
    state = "failed: " + out["error"] if "error" in out else "done"
    print(f"[gpu_check] {name} {state} in {out['seconds']} s", file=sys.stderr, flush=True)
    return out


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (file descriptor 1, so C libraries too) to stderr,
    keeping stdout for the one JSON object."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if present)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few rounds (CI)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    plan = QUICK if args.quick else Plan()
    if device.type == "cpu" and not args.quick:
        plan = replace(plan, limits_s=dict.fromkeys(SECTIONS, 600))  # not a target: just finish
    torch.manual_seed(0)
    start = time.monotonic()
    warnings.filterwarnings("ignore", message=".*tiny-random.*")  # its scores do not matter
    with stdout_to_stderr():
        report: dict[str, object] = {"check": "dfdetect gpu_check", "quick": args.quick}
        try:
            report["facts"] = device_facts(device)
        except Exception as exc:
            report["facts"] = {"error": describe(exc)}
        report["plan"] = asdict(plan)
        for name in SECTIONS:
            if name in args.sections:
                report[name] = run_section(name, BODIES[name], plan, device)
            else:
                report[name] = {"skipped": "not in --sections"}
        report["total_s"] = round(time.monotonic() - start, 1)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
