"""The same files through the single-process scan and through ``--engine ray`` on this
machine: files/s of each, their ratio, and the per-stage costs a cluster estimate needs.

Generates ``--files`` files, half 1280x720 H.264 videos and half 640x480 photos, each holding
one face (a shared sample crop pasted by ``dfdetect.media.synthetic``). Both runs start from
a loaded Python: the single-process run loads the model and scans (as ``dfdetect scan`` does,
without SQLite); the Ray run starts a local Ray first (timed apart: a cluster is started once)
and then runs ``scan_on_ray`` (model described, actors loaded, files scanned, Parquet
written). The per-stage costs are measured inside the single-process run: decode + detect +
align per video and per photo, and the model per face.

    python benchmarks/bench_cluster.py --files 40 --frames 8 --model-cpus 1,0
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from bench_scan import SAMPLES, Timed, make_videos
from PIL import Image

from dfdetect import Detector
from dfdetect.faces import create_face_detector
from dfdetect.media.synthetic import face_image
from dfdetect.scan import ScanOptions, ScanPipeline


def make_files(folder: Path, face: np.ndarray, n_files: int, length: int) -> list[str]:
    """``n_files // 2`` videos of ``length`` frames and the rest photos, interleaved."""
    videos = make_videos(folder, face, n_files // 2, length)
    photos = [
        face_image(folder / f"photo{k:03d}.jpg", face, size=(640, 480), face_width=160, seed=k)
        for k in range(n_files - len(videos))
    ]
    return [str(p) for pair in zip(photos, videos, strict=False) for p in pair] + [
        str(p) for p in photos[len(videos) :]
    ]


def single_process(paths: list[str], options: ScanOptions) -> dict:
    start = time.perf_counter()
    detector = Detector.from_pretrained("tiny-random", device="cpu")
    faces = create_face_detector("mtcnn", device="cpu", min_face_size=options.min_face_size)
    predictor = Timed(detector, "predict")
    pipe = ScanPipeline(predictor, faces, options)
    loaded = time.perf_counter() - start
    prepare_s = {"video": 0.0, "image": 0.0}
    prepare = pipe.preparer.prepare_path

    def timed_prepare(path):
        t = time.perf_counter()
        prepared = prepare(path)
        prepare_s[prepared.kind or "image"] += time.perf_counter() - t
        return prepared

    pipe.preparer.prepare_path = timed_prepare
    results = list(pipe.scan(paths))
    seconds = time.perf_counter() - start
    videos = sum(r.kind == "video" for r in results)
    return {
        "seconds": seconds,
        "load_s": loaded,
        "failed": sum(r.failed for r in results),
        "faces": predictor.items,
        "video_prepare_s": prepare_s["video"] / max(videos, 1),
        "photo_prepare_s": prepare_s["image"] / max(len(results) - videos, 1),
        "model_s_per_face": predictor.seconds / max(predictor.items, 1),
    }


def on_ray(paths: list[str], options: ScanOptions, model_cpus: list[float], out: Path) -> dict:
    """Seconds of ``scan_on_ray`` into a new output for each model-actor CPU reservation, on
    one local Ray started first."""
    import ray

    from dfdetect.scan.cluster import ClusterOptions
    from dfdetect.scan.cluster.engine import scan_on_ray

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR")
    figures = {"ray_start_s": time.perf_counter() - start, "failed": 0}
    try:
        for cpus in model_cpus:
            report = scan_on_ray(
                paths, out / f"cpus{cpus}.parquet", model="tiny-random", options=options,
                cluster=ClusterOptions(model_cpus=cpus),
            )  # fmt: skip
            figures[cpus] = report.seconds
            figures["failed"] += int(report.failed)
    finally:
        ray.shutdown()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40, help="half videos, half photos")
    parser.add_argument("--length", type=int, default=40, help="frames per video (default 40)")
    parser.add_argument("--frames", type=int, default=8, help="frames sampled per video")
    parser.add_argument("--workers", type=int, default=2, help="single-process threads")
    parser.add_argument(
        "--model-cpus", default="1", help="CPUs the model actor reserves, one Ray run each: 1,0"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*tiny-random.*")  # its scores do not matter here

    face_path = next(iter(sorted(SAMPLES.glob("*/*/*/*.png"))), None)
    if face_path is None:
        parser.error(f"no sample faces under {SAMPLES}")
    face = np.asarray(Image.open(face_path).convert("RGB"))
    options = ScanOptions(frames=args.frames, workers=args.workers)
    model_cpus = [float(c) for c in args.model_cpus.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), face, args.files, args.length)
        single = single_process(paths, options)
        ray_runs = on_ray(paths, options, model_cpus, Path(tmp))
    n = len(paths)
    figures = {
        "files": n,
        "cpus": os.cpu_count(),
        "frames_per_video": args.frames,
        "single_s": round(single["seconds"], 2),
        "single_files_per_s": round(n / single["seconds"], 3),
        "single_model_load_s": round(single["load_s"], 2),
        "ray_start_s": round(ray_runs["ray_start_s"], 2),
        "ray": [
            {
                "model_cpus": c,
                "seconds": round(ray_runs[c], 2),
                "files_per_s": round(n / ray_runs[c], 3),
                "ratio": round(ray_runs[c] / single["seconds"], 2),
            }
            for c in model_cpus
        ],
        "video_prepare_s": round(single["video_prepare_s"], 3),
        "photo_prepare_s": round(single["photo_prepare_s"], 3),
        "model_ms_per_face": round(1000 * single["model_s_per_face"], 2),
        "failed": single["failed"] + ray_runs["failed"],
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    f = figures
    print(
        f"{n} files ({n // 2} videos 1280x720 x {args.frames} sampled frames, {n - n // 2} "
        f"photos 640x480), tiny-random, {f['cpus']} CPUs\n"
        f"single process     : {f['single_s']:7.2f} s (model load {f['single_model_load_s']} s)"
        f" -> {f['single_files_per_s']} files/s"
    )
    for r in f["ray"]:
        print(
            f"--engine ray, model actor {r['model_cpus']:g} CPU: {r['seconds']:7.2f} s -> "
            f"{r['files_per_s']} files/s, {r['ratio']}x the single-process time"
        )
    print(
        f"(Ray start {f['ray_start_s']} s, once per cluster, not counted)\n"
        f"per-stage costs inside the single-process run: decode + detect + align "
        f"{f['video_prepare_s']} s per video, {f['photo_prepare_s']} s per photo; model "
        f"{f['model_ms_per_face']} ms per face"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
