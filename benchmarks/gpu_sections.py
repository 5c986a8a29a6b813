"""The sections of gpu_check.py: each fills a dict with ``unit``, ``baseline`` and ``entries``
(per variant ``per_s`` and ``ratio``, or ``error`` / ``unavailable``) as its figures arrive,
timing its variants side by side in interleaved rounds (bench_predict.interleaved_rates)."""

from __future__ import annotations

import contextlib
import copy
import gc
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from bench_faces import make_frames
from bench_predict import interleaved_rates
from bench_scan import SAMPLES, build_detector, make_videos
from bench_train import dfdetect_step, measure

from dfdetect.faces import create_face_detector
from dfdetect.faces.mtcnn import MTCNNDetector
from dfdetect.media import load_image
from dfdetect.media.synthetic import background
from dfdetect.model.loading import on_runtime
from dfdetect.model.onnx_detector import OnnxDetector
from dfdetect.scan import ScanOptions, ScanPipeline

if TYPE_CHECKING:
    from gpu_check import Plan

SETUP_SHARE = 0.6  # of a section's time left that one setup step (compiling, exporting) may use
TIMING_SHARE = 0.5  # of a section's time left that the timed rounds may use


class OverTime(Exception):
    """A section or a step of one ran past its time limit."""


class Unavailable(Exception):
    """A variant that cannot run here (a package or execution provider is missing)."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise :class:`OverTime` in the main thread once the block has run ``seconds``. Limits
    nest: an enclosing one keeps counting and still applies."""
    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    limit = min(seconds, outer) if outer else seconds

    def expire(signum, frame):
        raise OverTime(f"{what} ran out of time after {limit:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(limit, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


def describe(exc: BaseException) -> str:
    """``Type: message``, cut to 1,000 characters (CUDA errors run long)."""
    return f"{type(exc).__name__}: {exc}"[:1000]


def left(deadline: float) -> float:
    """Seconds until ``deadline`` (``time.monotonic`` clock), at least 1."""
    return max(deadline - time.monotonic(), 1.0)


def attempt(entries: dict, name: str, make: Callable[[], object], seconds: float):
    """``make()`` within ``seconds``, or None with what went wrong as ``entries[name]``, so one
    variant failing does not lose the others."""
    try:
        with time_limit(seconds, name):
            return make()
    except Unavailable as exc:
        entries[name] = {"unavailable": str(exc)}
    except Exception as exc:
        entries[name] = {"error": describe(exc)}
    return None


def add_rates(entries: dict, rates: dict[str, float], baseline: str) -> None:
    """Each rate as ``per_s`` and ``ratio`` to the baseline's rate, into ``entries``."""
    for name, rate in rates.items():
        entries.setdefault(name, {}).update(per_s=rate, ratio=rate / rates[baseline])


def free_cuda(device: torch.device) -> None:
    """Collect garbage and hand cached CUDA blocks back, so the next peak is the next step's."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# predict ------------------------------------------------------------------------------------


def compiled(detector, backend: str, faces: list, batch: int) -> tuple[object, dict]:
    """``detector`` compiled in place (``Detector.__call__``, so ``predict`` uses it), after
    one untimed call that compiles it; returns it and the compile seconds."""
    detector.compile(backend=backend, dynamic=False)
    start = time.perf_counter()
    detector.predict(faces, batch_size=batch)
    if detector.device.type == "cuda":
        torch.cuda.synchronize()
    return detector, {"backend": backend, "compile_s": round(time.perf_counter() - start, 1)}


def onnx_runtime(detector, device: torch.device, folder: Path) -> tuple[OnnxDetector, dict]:
    """``detector`` exported to ONNX (fp32) and run by ONNX Runtime on ``device``'s execution
    provider, behind the OnnxDetector API (preprocessing on the CPU; pixels go to the provider
    per batch)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise Unavailable('onnxruntime is not installed (pip install "dfdetect[onnx]")') from None
    from dfdetect.model.export import export_onnx

    provider = "CUDAExecutionProvider" if device.type == "cuda" else "CPUExecutionProvider"
    offered = ort.get_available_providers()
    if provider not in offered:
        raise Unavailable(
            f"onnxruntime {ort.__version__} offers {offered}, not {provider} "
            "(the onnxruntime-gpu package has it)"
        )
    start = time.perf_counter()
    exported, _ = export_onnx(copy.deepcopy(detector), folder)  # exporting moves it to the CPU
    info = {"provider": provider, "export_s": round(time.perf_counter() - start, 1)}
    if device.type == "cuda":
        exported.session = ort.InferenceSession(str(exported.path), providers=[provider])
        if exported.session.get_providers()[0] != provider:
            raise Unavailable(f"{provider} did not load (see onnxruntime's log on stderr)")
    return exported, info


def predict_section(out: dict, plan: Plan, device: torch.device, deadline: float) -> None:
    onnx = f"onnxruntime_{device.type}"
    names = ("transformers_fp32", "torch_fp32", "torch_bf16", "torch_bf16_compile", onnx)
    entries: dict[str, dict] = {name: {} for name in names}  # the baseline first
    out.update(unit="images/s", baseline="transformers_fp32", batch_size=plan.predict_batch)
    out["entries"] = entries
    batch = plan.predict_batch
    fp32 = build_detector(plan.backbone, str(device), "float32")
    out["backbone"] = plan.backbone
    faces = list(np.random.default_rng(0).integers(0, 256, (batch, 256, 256, 3), np.uint8))
    pixels = fp32.preprocess(faces)
    plain = fp32.backbone.model  # the transformers vision model itself, same weights

    def plain_forward() -> None:
        with torch.inference_mode():
            plain(pixel_values=pixels)

    models = {"torch_fp32": fp32, "torch_bf16": copy.deepcopy(fp32).to(torch.bfloat16)}
    made = attempt(
        entries,
        "torch_bf16_compile",
        lambda: compiled(copy.deepcopy(models["torch_bf16"]), plan.compile_backend, faces, batch),
        left(deadline) * SETUP_SHARE,
    )
    if made is not None:
        models["torch_bf16_compile"], entries["torch_bf16_compile"] = made
    with tempfile.TemporaryDirectory() as tmp:
        made = attempt(
            entries,
            onnx,
            lambda: onnx_runtime(fp32, device, Path(tmp) / "onnx"),
            left(deadline) * SETUP_SHARE,
        )
        if made is not None:
            models[onnx], entries[onnx] = made
        reference = fp32.predict(faces, batch_size=batch)
        for name, model in models.items():
            dp = np.abs(model.predict(faces, batch_size=batch) - reference).max()
            entries[name]["max_abs_dp_vs_fp32"] = float(dp)
        fns = {"transformers_fp32": plain_forward} | {
            name: (lambda m=model: m.predict(faces, batch_size=batch))
            for name, model in models.items()
        }
        rates = interleaved_rates(fns, batch, plan.iters, device, left(deadline) * TIMING_SHARE)
    add_rates(entries, rates, "transformers_fp32")


# train --------------------------------------------------------------------------------------


def train_section(out: dict, plan: Plan, device: torch.device, deadline: float) -> None:
    entries: dict[str, dict] = {}
    out.update(unit="images/s", baseline="ln_tuning_fp32", batch_size=plan.train_batch)
    out.update(backbone=plan.backbone, entries=entries)
    faces = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (plan.train_batch, 256, 256, 3), np.uint8)
    ).to(device)
    rates = {}
    for name, precision in (("ln_tuning_fp32", "fp32"), ("ln_tuning_bf16", "bf16")):
        figures = attempt(
            entries,
            name,
            lambda p=precision: measure(
                dfdetect_step(plan.backbone, faces, device, p, preprocess=True),
                plan.train_batch,
                plan.train_iters,
                device,
            ),
            left(deadline) * SETUP_SHARE,
        )
        free_cuda(device)  # the step (model, optimiser) is gone: the next peak is its own
        if figures is not None:
            rates[name] = figures["images_per_s"]
            entries[name] = {"per_s": rates[name], "peak_gib": figures["peak_gib"]}
    if "ln_tuning_fp32" in rates:
        add_rates(entries, rates, "ln_tuning_fp32")


# mtcnn --------------------------------------------------------------------------------------


def mtcnn_section(out: dict, plan: Plan, device: torch.device, deadline: float) -> None:
    entries: dict[str, dict] = {}
    out.update(unit="frames/s", baseline="one_at_a_time", frame_size="1280x720")
    out.update(batch_size=plan.mtcnn_batch, frames=plan.mtcnn_frames, entries=entries)
    frames = make_frames(plan.mtcnn_frames)
    detector = MTCNNDetector(device=device, batch_size=plan.mtcnn_batch)
    found: dict[str, list] = {}

    def batched() -> None:
        found["batched"] = detector.detect(frames)

    def one_at_a_time() -> None:
        found["one_at_a_time"] = [detector.detect([frame])[0] for frame in frames]

    fns = {"batched": batched, "one_at_a_time": one_at_a_time}
    rates = interleaved_rates(fns, len(frames), plan.iters, device, left(deadline) * TIMING_SHARE)
    add_rates(entries, rates, "one_at_a_time")
    for name, faces in found.items():
        entries[name]["faces"] = sum(len(f) for f in faces)


# scan ---------------------------------------------------------------------------------------


def sample_face() -> tuple[np.ndarray, bool]:
    """The first shared sample crop, or (without ../shared) a textured square with no face."""
    paths = sorted(SAMPLES.glob("*/*/*/*.png"))
    if paths:
        return load_image(paths[0]), True
    return background(256, 256, seed=7), False


def scan_section(out: dict, plan: Plan, device: torch.device, deadline: float) -> None:
    entries: dict[str, dict] = {}
    out.update(unit="frames/s", baseline="torch_fp32", backbone=plan.backbone)
    face, real = sample_face()
    out.update(videos=plan.scan_videos, video_frames=plan.scan_length, size="1280x720")
    out.update(frames_per_video=plan.scan_frames, face_in_videos=real, entries=entries)
    options = ScanOptions(
        frames=plan.scan_frames,
        workers=plan.scan_workers,
        batch_size=plan.scan_batch,
        detect_batch=plan.mtcnn_batch,
    )
    faces = create_face_detector("mtcnn", device=str(device))
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_videos(Path(tmp), face, plan.scan_videos, plan.scan_length)
        auto = on_runtime(
            build_detector(plan.backbone, str(device), None), "auto", cache=Path(tmp) / "cache"
        )
        runtime = (
            "onnxruntime"
            if isinstance(auto, OnnxDetector)
            else "torch " + str(auto.dtype).removeprefix("torch.")
        )
        pipes = {
            "runtime_auto": ScanPipeline(auto, faces, options),
            "torch_fp32": ScanPipeline(
                build_detector(plan.backbone, str(device), "float32"), faces, options
            ),
        }
        results: dict[str, list] = {}

        def scanner(name: str) -> Callable[[], None]:
            return lambda: results.__setitem__(name, list(pipes[name].scan(paths)))

        n_frames = plan.scan_videos * min(plan.scan_frames, plan.scan_length)
        fns = {name: scanner(name) for name in pipes}
        rates = interleaved_rates(fns, n_frames, plan.iters, device, left(deadline) * TIMING_SHARE)
    add_rates(entries, rates, "torch_fp32")
    entries["runtime_auto"]["runtime"] = runtime
    for name, found in results.items():
        scanned = sum(len(r.frames) for r in found)
        if scanned != n_frames:
            raise RuntimeError(f"{name}: scanned {scanned} frames, expected {n_frames}")
        entries[name]["faces"] = sum(len(r.faces) for r in found)
        entries[name]["failed_files"] = sum(r.failed for r in found)


BODIES = {
    "predict": predict_section,
    "train": train_section,
    "mtcnn": mtcnn_section,
    "scan": scan_section,
}
