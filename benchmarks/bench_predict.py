"""Images/s of ``Detector.predict`` next to the plain transformers forward pass, same run.

Random weights of the chosen architecture (no download), random 256x256 uint8 faces.

    python benchmarks/bench_predict.py --backbone vit-b16 --batch-size 8 --iters 3
    python benchmarks/bench_predict.py --backbone vit-l14 --device cuda --batch-size 128
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from dfdetect.model.config import DetectorConfig
from dfdetect.model.detector import Detector
from dfdetect.model.registry import known_backbones


def interleaved_rates(
    fns: dict[str, Callable[[], object]],
    n_images: int,
    iters: int,
    device: torch.device,
    budget_s: float | None = None,
) -> dict[str, float]:
    """Median images/s of each function over ``iters`` rounds (after one warm-up round); the
    functions take turns within every round, so a busy machine slows them alike. With
    ``budget_s``, no round starts once that many seconds have passed (at least one is timed)."""
    rates: dict[str, list[float]] = {name: [] for name in fns}
    began = time.perf_counter()
    for round_index in range(iters + 1):
        if round_index > 1 and budget_s is not None and time.perf_counter() - began > budget_s:
            break
        for name, fn in fns.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if round_index > 0:
                rates[name].append(n_images / (time.perf_counter() - start))
    return {name: float(np.median(values)) for name, values in rates.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vit-b16", help=f"one of {known_backbones()}")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: automatic)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16, float16 (default: auto)")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--face-size", type=int, default=256, help="side of the input crops")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args(argv)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny-random warns by design
        det = Detector.from_config(
            DetectorConfig(backbone=args.backbone),
            pretrained_backbone=False,
            device=args.device,
            dtype=args.dtype,
        )
    rng = np.random.default_rng(0)
    faces = list(
        rng.integers(0, 256, (args.batch_size, args.face_size, args.face_size, 3), np.uint8)
    )
    pixels = det.preprocess(faces)
    plain = det.backbone.model  # the transformers vision model itself

    def plain_forward() -> None:
        with torch.inference_mode():
            plain(pixel_values=pixels)

    def preprocess_only() -> None:
        det.preprocess(faces)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rates = interleaved_rates(
            {
                "predict_images_per_s": lambda: det.predict(faces, batch_size=args.batch_size),
                "transformers_forward_images_per_s": plain_forward,
                "preprocess_images_per_s": preprocess_only,
            },
            len(faces),
            args.iters,
            det.device,
        )
    results = {
        "backbone": det.config.backbone,
        "device": str(det.device),
        "dtype": str(det.dtype).removeprefix("torch."),
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        **rates,
    }
    print_results(results, args.json)
    return 0


def print_results(results: dict, as_json: bool) -> None:
    """One JSON line, or aligned ``name value`` lines."""
    if as_json:
        print(json.dumps(results))
        return
    for key, value in results.items():
        print(f"{key:36s} {value:.3g}" if isinstance(value, float) else f"{key:36s} {value}")


if __name__ == "__main__":
    raise SystemExit(main())
