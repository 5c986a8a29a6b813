"""MTCNN per frame, this version beside the one of an earlier git revision, in one run.

Loads ``src/dfdetect/faces/mtcnn.py`` as of ``--before REV`` (``git show``) next to the current
one, and times both on the same 1280x720 and 1920x1080 frames (each holding one real face at a
random placement, see bench_faces.py), alternating old and new so that load on the machine
hits both alike: median ms per frame, faces found, and how far the new boxes and landmarks lie
from the old ones (pixels; largest and median over the faces: MTCNN's NMS keeps the best of
near-equal proposals, so a tiny numerical change can pick a neighbour a few pixels away). The
title gives the load average when the run ended: other processes on the cores slow torch's
thread hand-offs far more than ONNX Runtime's sleeping threads. ``--runtime`` picks the
current detector's engine (``auto``: ONNX Runtime when installed).

    python benchmarks/bench_mtcnn.py --before 807d21c --frames 16 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from dfdetect.faces import mtcnn
from dfdetect.runtime import RUNTIMES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_faces import make_frames

REPO = Path(__file__).resolve().parents[1]


def old_module(revision: str) -> types.ModuleType:
    """``dfdetect.faces.mtcnn`` as of ``revision``."""
    source = subprocess.run(
        ["git", "show", f"{revision}:src/dfdetect/faces/mtcnn.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("mtcnn_before")
    exec(compile(source, "mtcnn_before.py", "exec"), module.__dict__)  # our own file from git
    return module


def compare(frames: list[np.ndarray], old, new, repeats: int) -> dict:
    """Median ms per frame of each detector (alternating), faces found, max pixel distance of
    the new boxes and landmarks from the old ones (faces matched by order)."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    found: dict[str, list] = {}
    for detector in (old, new):
        detector.detect(frames[:1])  # warm-up
    for _ in range(repeats):
        for name, detector in (("old", old), ("new", new)):
            start = time.perf_counter()
            found[name] = [detector.detect([frame])[0] for frame in frames]
            times[name].append((time.perf_counter() - start) / len(frames))
    box_diffs, landmark_diffs = [0.0], [0.0]
    for a, b in zip(found["old"], found["new"], strict=True):
        for fa, fb in zip(a, b, strict=False):
            box_diffs.append(float(np.abs(fa.box - fb.box).max()))
            landmark_diffs.append(float(np.abs(fa.landmarks - fb.landmarks).max()))
    old_ms, new_ms = (1000 * statistics.median(times[k]) for k in ("old", "new"))
    return {
        "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "frames": len(frames),
        "old_ms": old_ms,
        "new_ms": new_ms,
        "speedup": old_ms / new_ms,
        "old_faces": sum(len(f) for f in found["old"]),
        "new_faces": sum(len(f) for f in found["new"]),
        "max_box_px": max(box_diffs),
        "median_box_px": statistics.median(box_diffs[1:] or [0.0]),
        "max_landmark_px": max(landmark_diffs),
        "median_landmark_px": statistics.median(landmark_diffs[1:] or [0.0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="807d21c", help="git revision to compare against")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--min-face-size", type=int, default=40)
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto", help="current one's")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"device": "cpu", "min_face_size": args.min_face_size}
    old = old_module(args.before).MTCNNDetector(**options)
    new = mtcnn.MTCNNDetector(**options, runtime=args.runtime)
    frames = make_frames(args.frames)
    rows = [
        compare(frames, old, new, args.repeats),
        compare([cv2.resize(f, (1920, 1080)) for f in frames], old, new, args.repeats),
    ]
    table = Table(
        title=f"MTCNN per frame, {args.before} vs now ({new.runtime}; "
        f"{torch.get_num_threads()} threads, min face {args.min_face_size}; "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    columns = ("size", "frames", "ms before", "ms now", "speed-up", "faces before", "faces now",
               "box diff px max / median", "landmark diff px max / median")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["size"], str(r["frames"]), f"{r['old_ms']:.1f}", f"{r['new_ms']:.1f}",
            f"{r['speedup']:.2f}x", str(r["old_faces"]), str(r["new_faces"]),
            f"{r['max_box_px']:.2f} / {r['median_box_px']:.2f}",
            f"{r['max_landmark_px']:.2f} / {r['median_landmark_px']:.2f}",
        )  # fmt: skip
    Console(width=160).print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
