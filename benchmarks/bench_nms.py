"""Greedy NMS alone on random boxes, and MTCNN on a cluttered photo (thousands of PNet
proposals reach NMS), on CPU; optionally beside the NMS of an earlier git revision.

    python benchmarks/bench_nms.py [--boxes 5000 20000] [--photo 4000 3000]
                                   [--max-sides 0 1920 1280] [--threads N] [--before REV]
                                   [--json out.json]

NMS rows: N square boxes of 12-120 px (log-uniform) over a 1920x1440 canvas, uniform random
scores, threshold 0.7 (what MTCNN uses across scales, "union", and after ONet, "min"); median
of 3. Photo rows: random smooth blobs (full-range noise at 1/8 size, bicubic upscaled), which
PNet finds face-like by the thousand, min face 40, median of 3; "NMS input" is the most boxes
one ``nms`` call received. Each row runs in a fresh process; "peak MB" is how far the row
raises the process's resident memory (see bench_faces.py). ``--before REV`` loads
``src/dfdetect/faces/nms.py`` as of REV (``git show``) and runs every row with it too;
``--max-sides 0`` is no downscaling.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import types
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
import torch
from bench_faces import _peak_rss_kb, _reset_peak_rss_kb
from rich.console import Console
from rich.table import Table

import dfdetect.faces.mtcnn as mtcnn
import dfdetect.faces.nms as current_nms
from dfdetect.faces import create_face_detector

ROOT = Path(__file__).resolve().parents[1]


def random_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    side = np.exp(rng.uniform(np.log(12), np.log(120), n))
    xy = rng.uniform(0, (1920, 1440), (n, 2))
    boxes = np.concatenate([xy, xy + side[:, None]], axis=1).astype(np.float32)
    return torch.from_numpy(boxes), torch.from_numpy(rng.random(n).astype(np.float32))


def cluttered_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Random smooth blobs: thousands of PNet proposals (over 4,000 at 4000x3000)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _nms_module(source: str | None) -> types.ModuleType:
    """The current ``dfdetect.faces.nms``, or one built from ``source`` (an older version)."""
    if source is None:
        return current_nms
    module = types.ModuleType("nms_before")
    exec(compile(source, "nms_before.py", "exec"), module.__dict__)  # our own file from git
    return module


def bench_boxes(n: int, mode: str, source: str | None, threads: int | None) -> dict:
    if threads:
        torch.set_num_threads(threads)
    module = _nms_module(source)
    boxes, scores = random_boxes(n)
    module.nms(boxes[:100], scores[:100], 0.7, mode)  # warm-up
    before = _reset_peak_rss_kb()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        kept = module.nms(boxes, scores, 0.7, mode)
        times.append(time.perf_counter() - start)
    return {
        "what": f"nms {n} boxes, {mode}",
        "nms_input": n,
        "kept": len(kept),
        "ms": 1000 * statistics.median(times),
        "peak_mem_growth_mb": (_peak_rss_kb() - before) / 1024,
    }


def bench_photo(
    width: int, height: int, max_side: int | None, source: str | None, threads: int | None
) -> dict:
    if threads:
        torch.set_num_threads(threads)
    module = _nms_module(source)
    largest = [0]

    def batched_nms(boxes, scores, groups, threshold, mode="union"):
        largest[0] = max(largest[0], int(torch.bincount(groups).max()) if len(groups) else 0)
        return module.batched_nms(boxes, scores, groups, threshold, mode)

    mtcnn.batched_nms = batched_nms  # this process only
    photo = cluttered_photo(width, height)
    detector = create_face_detector("mtcnn", device="cpu", max_side=max_side)
    detector.detect([photo[:480, :640].copy()])  # warm-up at a small size
    before = _reset_peak_rss_kb()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        found = detector.detect([photo])[0]
        times.append(time.perf_counter() - start)
    return {
        "what": f"detect {width}x{height} blobs, max_side {max_side}",
        "nms_input": largest[0],
        "kept": len(found),
        "ms": 1000 * statistics.median(times),
        "peak_mem_growth_mb": (_peak_rss_kb() - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, nargs="*", default=[5000, 20000])
    parser.add_argument("--modes", nargs="+", default=["union", "min"])
    parser.add_argument("--photo", type=int, nargs=2, default=[4000, 3000], metavar=("W", "H"))
    parser.add_argument(
        "--max-sides", type=int, nargs="*", default=[0, 1920, 1280], help="0: no downscaling"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--before", default=None, help="git revision to compare against")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()

    versions: dict[str, str | None] = {"now": None}
    if args.before:
        versions[args.before] = subprocess.run(
            ["git", "show", f"{args.before}:src/dfdetect/faces/nms.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    jobs = [(bench_boxes, (n, mode)) for n in args.boxes for mode in args.modes]
    jobs += [(bench_photo, (*args.photo, side or None)) for side in args.max_sides]
    rows = []
    for function, job_args in jobs:
        for version, source in versions.items():
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                row = pool.submit(function, *job_args, source, args.threads).result()
            rows.append({**row, "nms": version})

    threads = args.threads or torch.get_num_threads()
    table = Table(title=f"NMS and detection with it, CPU, {threads} torch threads")
    for column in ("what", "nms", "NMS input", "kept / faces", "ms", "peak MB"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for r in rows:
        table.add_row(
            r["what"],
            r["nms"],
            str(r["nms_input"]),
            str(r["kept"]),
            f"{r['ms']:.0f}",
            f"{r['peak_mem_growth_mb']:.0f}",
        )
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
