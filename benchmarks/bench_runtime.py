"""Images/s of ``predict`` on PyTorch fp32, ONNX Runtime fp32 and ONNX Runtime int8, side by
side in one run (interleaved rounds), with each export's drift and export time.

Random weights of the chosen architecture (no download), random 256x256 uint8 faces.

Also printed, to read the ratios against what the CPU allows: its vector instruction sets
(AVX-512, VNNI and AMX decide what int8 and bf16 can gain) and the share of the PyTorch forward
spent in matrix multiplications. fp32 ONNX Runtime runs the same GEMMs at the same speed as
PyTorch (both near the CPU's peak), so 1 / that share bounds its fp32 speed-up.

    python benchmarks/bench_runtime.py --backbone vit-b16 --batch-size 8 --iters 3
    python benchmarks/bench_runtime.py --backbone vit-l14 --batch-size 8 --iters 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_predict import interleaved_rates, print_results

from dfdetect.model.config import DetectorConfig
from dfdetect.model.detector import Detector
from dfdetect.model.export import export_onnx
from dfdetect.model.registry import known_backbones

ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags() -> str:
    """The instruction sets of :data:`ISA_FLAGS` this CPU has (Linux /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set(next((line for line in text.splitlines() if line.startswith("flags")), "").split())
    return " ".join(f for f in ISA_FLAGS if f in flags) or "none of " + " ".join(ISA_FLAGS)


def gemm_share(det: Detector, pixels: torch.Tensor) -> float:
    """Share of one PyTorch forward's CPU time spent in matrix multiplications."""
    with torch.no_grad():
        det(pixels)
        with torch.profiler.profile() as prof:
            det(pixels)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    gemm = sum(
        e.self_cpu_time_total for e in events if e.key in ("aten::addmm", "aten::mm", "aten::bmm")
    )
    return gemm / total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vit-b16", help=f"one of {known_backbones()}")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args(argv)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_config(
            DetectorConfig(backbone=args.backbone), pretrained_backbone=False, device="cpu"
        )
    faces = list(
        np.random.default_rng(0).integers(0, 256, (args.batch_size, 256, 256, 3), np.uint8)
    )
    results: dict[str, object] = {
        "backbone": det.config.backbone,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "cpu_flags": cpu_flags(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        exported = {}
        for name, int8 in (("onnx_fp32", False), ("onnx_int8", True)):
            start = time.perf_counter()
            exported[name], drift = export_onnx(det, Path(tmp) / name, int8=int8)
            results[f"{name}_export_s"] = round(time.perf_counter() - start, 1)
            results[f"{name}_max_abs_dp"] = drift["max_abs_dp"]
            results[f"{name}_max_rel_logit_error"] = drift["max_rel_logit_error"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rates = interleaved_rates(
                {
                    "torch_fp32": lambda: det.predict(faces, batch_size=args.batch_size),
                    **{
                        name: (lambda m=m: m.predict(faces, batch_size=args.batch_size))
                        for name, m in exported.items()
                    },
                },
                len(faces),
                args.iters,
                det.device,
            )
    share = gemm_share(det, det.preprocess(faces))
    results["torch_gemm_share"] = share
    results["onnx_fp32_bound_same_gemm"] = 1 / share
    for name, rate in rates.items():
        results[f"{name}_images_per_s"] = rate
        results[f"{name}_speedup"] = rate / rates["torch_fp32"]
    print_results(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
