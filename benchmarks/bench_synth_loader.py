"""Images/s of the training DataLoader with SBI pseudo-fakes made in its workers, next to the
same loader without them, to size ``data.num_workers`` against the training step.

Real-only training data: the shared real sample crops (256x256), repeated into ``--videos``
videos. Each loader yields the trainer's pairs (SBI + its real) through the trainer's dataset,
sampler and collate, with the default training augmentation. Half the images of an SBI run are
blended; compare with the train step's images/s (``bench_train.py``; the reference code
measured 694 images/s for ViT-L/14 LN tuning, batch 128, bf16 on one H100).

    python benchmarks/bench_synth_loader.py --workers 0 1 --batches 20
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
from torch.utils.data import DataLoader

from dfdetect.data.augment import AugmentConfig
from dfdetect.data.dataset import Collate, FrameDataset
from dfdetect.data.sampling import EpochSampler
from dfdetect.data.specs import load_entries
from dfdetect.faces.presets import get_preset
from dfdetect.synth.training import PseudoFakeConfig, add_pseudo_fakes

SAMPLES = Path(os.environ.get("DFDETECT_SHARED", "../shared")) / "samples" / "faces"


def real_tree(folder: Path, videos: int) -> Path:
    """``folder/real/vNNN/*.png`` from the shared real crops, ``videos`` folders in turn."""
    reals = sorted(p for p in SAMPLES.glob("*/*/*/*.png") if "real" in p.parts[-3].lower())
    for k in range(videos):
        video = folder / "real" / f"v{k:03d}"
        video.mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(
                str(video / f"{i:03d}.png"), cv2.imread(str(reals[(4 * k + i) % len(reals)]))
            )
    return folder


def rate(samples, synthesize, workers: int, batch: int, batches: int) -> float:
    """Images/s over ``batches`` batches after the first (worker start-up excluded)."""
    sampler = EpochSampler(samples, seed=0, pair_fakes=True)
    dataset = FrameDataset(samples, AugmentConfig(), 0, synthesize)
    loader = DataLoader(
        dataset, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=True,
        collate_fn=Collate(samples),
    )  # fmt: skip
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--videos", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reals = load_entries(
            [{"dataset": "folder", "root": str(real_tree(Path(tmp), args.videos))}]
        )
        with_sbi, hook, _ = add_pseudo_fakes(reals, PseudoFakeConfig(), get_preset("gend"), 0)
        for workers in args.workers:
            row = {"workers": workers, "batch": args.batch_size}
            row["plain_images_per_s"] = round(
                rate(reals, None, workers, args.batch_size, args.batches), 1
            )
            row["sbi_images_per_s"] = round(
                rate(with_sbi, hook, workers, args.batch_size, args.batches), 1
            )
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
