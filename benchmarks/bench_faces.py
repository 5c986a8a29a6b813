"""Frames per second of face detection + alignment on 1280x720 frames, and of sampled video
decoding, on CPU (and batched on CUDA when present); detection on large photos with and
without downscaling (``max_side``).

    python benchmarks/bench_faces.py [--frames 32] [--batch-sizes 1 4 16] [--threads N]
                                     [--photo-mp 12 48] [--max-sides 0 1920 1280]
                                     [--detector mtcnn|scrfd] [--scrfd-model PATH]
                                     [--json out.json]

Frames hold one real face each (the shared sample crops pasted at random scale, rotation and
position); without ../shared the faces are skipped and the frames hold textured noise only.
Photos (4:3) hold three real faces about 150, 400 and 1000 px wide (scaled with the photo) on
a smooth generated background; each photo row runs in a fresh process, and "peak MB" is how
far detection raises the process's resident memory above that of a warmed-up detector
holding the photo. ``--max-sides 0`` is no downscaling. ``--detector scrfd`` times InsightFace's
SCRFD graph named by ``--scrfd-model`` (e.g. det_10g.onnx; onnxruntime threads, not torch's)
instead of MTCNN.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from dfdetect.faces import FaceDetector, create_face_detector, crop_faces, get_preset
from dfdetect.media import VideoReader, load_image, sample_frame_indices
from dfdetect.media.synthetic import paste_face, write_video

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "faces"


def make_frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` 1280x720 frames with a real face each at a random placement."""
    rng = np.random.default_rng(seed)
    faces = [load_image(p) for p in sorted(SAMPLES.glob("*/*/*/*.png"))]
    frames = []
    for i in range(n):
        base = rng.integers(60, 160, (90, 160, 3), dtype=np.uint8)
        frame = np.ascontiguousarray(np.repeat(np.repeat(base, 8, axis=0), 8, axis=1))
        if faces:
            paste_face(
                frame,
                faces[i % len(faces)],
                scale=float(rng.uniform(0.5, 1.6)),
                angle=float(rng.uniform(-15, 15)),
                center=(float(rng.uniform(300, 980)), float(rng.uniform(250, 470))),
            )
        frames.append(frame)
    return frames


def make_detector(name: str, scrfd_model: Path | None, **options) -> FaceDetector:
    """The benchmarked detector; SCRFD reads its weights from ``scrfd_model``."""
    if name == "scrfd":
        options["model"] = scrfd_model
    return create_face_detector(name, **options)


def bench_detect(
    frames: list[np.ndarray], device: str, batch_size: int, repeats: int, detector_args: tuple
) -> dict:
    detector = make_detector(*detector_args, device=device, batch_size=batch_size)
    preset = get_preset("gend")
    crop_faces(frames[:batch_size], detector, preset)  # warm-up
    times, found = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        found = 0
        for i in range(0, len(frames), batch_size):
            found += sum(len(c) for c in crop_faces(frames[i : i + batch_size], detector, preset))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "what": f"detect+align ({detector.name})",
        "device": device,
        "batch_size": batch_size,
        "frames": len(frames),
        "faces": found,
        "frames_per_s": len(frames) / seconds,
        "ms_per_frame": 1000 * seconds / len(frames),
    }


def make_photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A 4:3 photo of about ``megapixels`` with three real faces (when the samples exist)."""
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5 / 8) * 8
    height = width * 3 // 4
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (96, 128, 3), dtype=np.uint8)
    photo = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
    faces = [load_image(p) for p in sorted(SAMPLES.glob("*/*/*/*.png"))[:3]]
    unit = width / 4000  # placements are given for a 4000 px wide photo
    for face, side, centre in zip(
        faces, (150, 400, 1000), ((3300, 700), (2600, 2000), (1200, 1500)), strict=False
    ):
        paste_face(
            photo,
            face,
            scale=side * unit / 256 * 2,  # the face spans about half of a sample crop
            center=(centre[0] * unit, centre[1] * unit),
        )
    return photo


def bench_photo(
    megapixels: float, max_side: int | None, threads: int | None, repeats: int, detector_args: tuple
) -> dict:
    """Detection on one photo; run in a fresh process so that peak memory is this row's."""
    if threads:
        torch.set_num_threads(threads)
    photo = make_photo(megapixels)
    detector = make_detector(*detector_args, device="cpu", max_side=max_side)
    detector.detect([photo[:480, :640].copy()])  # warm-up at a small size
    before = _reset_peak_rss_kb()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = detector.detect([photo])[0]
        times.append(time.perf_counter() - start)
    peak = _peak_rss_kb()
    seconds = statistics.median(times)
    height, width = photo.shape[:2]
    return {
        "what": f"detect {width}x{height} photo, max_side {max_side} ({detector.name})",
        "device": "cpu",
        "batch_size": 1,
        "frames": 1,
        "faces": len(found),
        "frames_per_s": 1 / seconds,
        "ms_per_frame": 1000 * seconds,
        "peak_mem_growth_mb": (peak - before) / 1024,
    }


def _reset_peak_rss_kb() -> int:
    """Reset the peak resident memory to the current one (Linux) and return it, in KiB."""
    status = Path("/proc/self/status")
    if not status.exists():  # elsewhere the peak since the start of the process
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path("/proc/self/clear_refs").write_text("5")
    return _proc_status_kb("VmRSS")


def _peak_rss_kb() -> int:
    if not Path("/proc/self/status").exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _proc_status_kb("VmHWM")


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def bench_decode(frames: list[np.ndarray], n_video_frames: int, n_sampled: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(
            Path(tmp) / "clip.mp4", (frames[i % len(frames)] for i in range(n_video_frames)), gop=50
        )
        start = time.perf_counter()
        with VideoReader(path) as reader:
            wanted = sample_frame_indices(reader.n_frames, n_sampled, "max-spread")
            got = sum(1 for _ in reader.read(wanted))
        seconds = time.perf_counter() - start
    return {
        "what": f"open + read {n_sampled} of {n_video_frames} frames (H.264, gop 50)",
        "device": "cpu",
        "batch_size": "-",
        "frames": got,
        "frames_per_s": got / seconds,
        "ms_per_frame": 1000 * seconds / got,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--cuda-batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photo-mp", type=float, nargs="*", default=[12.0], help="megapixels")
    parser.add_argument(
        "--max-sides", type=int, nargs="+", default=[0, 1920, 1280], help="0: no downscaling"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--detector", choices=("mtcnn", "scrfd"), default="mtcnn")
    parser.add_argument("--scrfd-model", type=Path, default=None, help="SCRFD .onnx (scrfd)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if args.detector == "scrfd" and args.scrfd_model is None:
        parser.error("--detector scrfd needs --scrfd-model PATH (InsightFace's det_10g.onnx)")
    detector_args = (args.detector, args.scrfd_model)
    if args.threads:
        torch.set_num_threads(args.threads)

    console = Console()
    frames = make_frames(args.frames)
    console.print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"faces from {SAMPLES if SAMPLES.is_dir() else 'nowhere (no shared samples)'}"
    )
    rows = [bench_detect(frames, "cpu", b, args.repeats, detector_args) for b in args.batch_sizes]
    if torch.cuda.is_available():
        cuda_frames = make_frames(max(args.frames, *args.cuda_batch_sizes))
        rows += [
            bench_detect(cuda_frames, "cuda", b, args.repeats, detector_args)
            for b in args.cuda_batch_sizes
        ]
    rows.append(bench_decode(frames, 600, 32))
    for megapixels in args.photo_mp:
        for max_side in args.max_sides:
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                rows.append(
                    pool.submit(
                        bench_photo,
                        megapixels,
                        max_side or None,
                        args.threads,
                        args.repeats,
                        detector_args,
                    ).result()
                )

    table = Table(title="faces benchmark, 1280x720 frames and large photos")
    columns = ("what", "device", "batch", "frames", "faces", "frames/s", "ms/frame", "peak MB")
    for column in columns:
        table.add_column(column, justify="left" if column == "what" else "right")
    for r in rows:
        table.add_row(
            r["what"],
            r["device"],
            str(r["batch_size"]),
            str(r["frames"]),
            str(r.get("faces", "-")),
            f"{r['frames_per_s']:.1f}",
            f"{r['ms_per_frame']:.1f}",
            f"{r['peak_mem_growth_mb']:.0f}" if "peak_mem_growth_mb" in r else "-",
        )
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
