"""Videos/s and frames/s of a whole scan (decode, detect, align, classify) of 720p videos.

Generates a folder of H.264 1280x720 videos holding one moving face (a shared sample crop
pasted into textured frames by ``dfdetect.media.synthetic``), warms up on one, then times
``ScanPipeline.scan`` over all of them. ``--backbone tiny-random`` (default) or a backbone
with random weights of the real shapes (``vit-l14``); the time spent inside face detection
and the model is reported too.

    python benchmarks/bench_scan.py --videos 4 --frames 16
    python benchmarks/bench_scan.py --backbone vit-l14 --device cuda --videos 16 --frames 32
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from dfdetect import Detector
from dfdetect.faces import create_face_detector
from dfdetect.media.synthetic import face_video
from dfdetect.model.config import DetectorConfig
from dfdetect.scan import ScanOptions, ScanPipeline

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "faces"


class Timed:
    """Wraps an object and adds up the wall time of calls to one of its methods."""

    def __init__(self, inner, method: str) -> None:
        self._inner, self._method = inner, method
        self.seconds, self.items = 0.0, 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def timed(items, *args, **kwargs):
            start = time.perf_counter()
            out = attr(items, *args, **kwargs)
            with self._lock:
                self.seconds += time.perf_counter() - start
                self.items += len(items)
            return out

        return timed


def make_videos(folder: Path, face: np.ndarray, n_videos: int, n_frames: int) -> list[Path]:
    """``n_videos`` H.264 720p clips at 25 fps, each a 200 px face drifting across its own
    background, keyframes as far apart as x264 puts them by default (250 frames)."""
    encoding = {"fps": 25.0, "gop": 250, "codec_options": {"preset": "veryfast"}}
    return [
        face_video(
            folder / f"clip{v:03d}.mp4",
            [face],
            n_frames=n_frames,
            size=(1280, 720),
            face_width=200,
            step=(8.0, 2.0),
            seed=v,
            **encoding,
        )
        for v in range(n_videos)
    ]


def build_detector(backbone: str, device: str | None, dtype: str | None) -> Detector:
    if backbone == "tiny-random":
        return Detector.from_pretrained("tiny-random", device=device, dtype=dtype)
    config = DetectorConfig(backbone=backbone)
    return Detector.from_config(config, device=device, dtype=dtype, pretrained_backbone=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny-random", help="tiny-random, vit-b16, vit-l14")
    parser.add_argument("--device", default=None, help="cpu, cuda (default: automatic)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 (default: automatic)")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--length", type=int, default=75, help="frames per video (default 75)")
    parser.add_argument("--frames", type=int, default=16, help="frames sampled per video")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--detect-batch", type=int, default=8)
    parser.add_argument("--face", type=Path, default=None, help="a face crop PNG to paste")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*tiny-random.*")  # its scores do not matter here

    face_path = args.face or next(iter(sorted(SAMPLES.glob("*/*/*/*.png"))), None)
    if face_path is None:
        parser.error(f"no sample faces under {SAMPLES}; pass --face CROP.png")
    face = np.asarray(Image.open(face_path).convert("RGB"))
    detector = build_detector(args.backbone, args.device, args.dtype)
    faces = Timed(create_face_detector("mtcnn", device=str(detector.device)), "detect")
    predictor = Timed(detector, "predict")
    options = ScanOptions(
        frames=args.frames, workers=args.workers, batch_size=args.batch_size,
        detect_batch=args.detect_batch,
    )  # fmt: skip
    pipe = ScanPipeline(predictor, faces, options)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_videos(Path(tmp), face, args.videos + 1, args.length)
        pipe.analyze_path(paths[0])  # warm-up, not timed
        faces.seconds = predictor.seconds = 0.0
        faces.items = predictor.items = 0
        start = time.perf_counter()
        results = list(pipe.scan(paths[1:]))
        elapsed = time.perf_counter() - start
    frames = sum(len(r.frames) for r in results)
    found = sum(len(r.faces) for r in results)
    figures = {
        "backbone": args.backbone,
        "device": str(detector.device),
        "dtype": str(detector.dtype).removeprefix("torch."),
        "videos": len(results),
        "frames_per_video": args.frames,
        "faces": found,
        "failed": sum(r.failed for r in results),
        "seconds": round(elapsed, 3),
        "videos_per_s": round(len(results) / elapsed, 3),
        "frames_per_s": round(frames / elapsed, 2),
        "detect_s": round(faces.seconds, 3),
        "model_s": round(predictor.seconds, 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{figures['backbone']} on {figures['device']} ({figures['dtype']}): "
            f"{figures['videos']} videos x {args.frames} frames of 1280x720 in "
            f"{figures['seconds']} s -> {figures['videos_per_s']} videos/s, "
            f"{figures['frames_per_s']} frames/s ({found} faces; time inside face detection "
            f"{figures['detect_s']} s over {args.workers} threads, inside the model "
            f"{figures['model_s']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
