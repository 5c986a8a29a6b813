"""Frames per second of face detection + alignment on 1280x720 frames, and of sampled video
decoding, on CPU (and batched on CUDA when present).

    python benchmarks/bench_faces.py [--frames 32] [--batch-sizes 1 4 16] [--threads N]
                                     [--json out.json]

Frames hold one real face each (the shared sample crops pasted at random scale, rotation and
position); without ../shared the faces are skipped and the frames hold textured noise only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from dfdetect.faces import create_face_detector, crop_faces, get_preset
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


def bench_detect(frames: list[np.ndarray], device: str, batch_size: int, repeats: int) -> dict:
    detector = create_face_detector("mtcnn", device=device, batch_size=batch_size)
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
        "what": "detect+align",
        "device": device,
        "batch_size": batch_size,
        "frames": len(frames),
        "faces": found,
        "frames_per_s": len(frames) / seconds,
        "ms_per_frame": 1000 * seconds / len(frames),
    }


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
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    console = Console()
    frames = make_frames(args.frames)
    console.print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"faces from {SAMPLES if SAMPLES.is_dir() else 'nowhere (no shared samples)'}"
    )
    rows = [bench_detect(frames, "cpu", b, args.repeats) for b in args.batch_sizes]
    if torch.cuda.is_available():
        cuda_frames = make_frames(max(args.frames, *args.cuda_batch_sizes))
        rows += [bench_detect(cuda_frames, "cuda", b, args.repeats) for b in args.cuda_batch_sizes]
    rows.append(bench_decode(frames, 600, 32))

    table = Table(title="faces benchmark, 1280x720 frames")
    for column in ("what", "device", "batch", "frames", "faces", "frames/s", "ms/frame"):
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
        )
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
