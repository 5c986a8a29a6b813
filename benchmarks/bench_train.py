"""Training images/s (and peak CUDA memory) of dfdetect's LayerNorm-tuning train step, next to a
plain transformers CLIPVisionModel + autocast train step of the same shape, in the same run.

Random weights of the chosen architecture (no download), random 256x256 uint8 faces. Rows:
``dfdetect`` (the trainer's step, including its batched on-device preprocessing of the uint8
crops, as in training), ``dfdetect-px`` (the same step on ready pixels) and ``transformers``
(plain CLIPVisionModel, LayerNorms + linear head trained with CE, on ready pixels).

    python benchmarks/bench_train.py --backbone vit-b16 --batch-size 8 --iters 3
    python benchmarks/bench_train.py --backbone vit-l14 --batch-size 128 --device cuda
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dfdetect.evaluate.scoring import autocast_for
from dfdetect.model.config import DetectorConfig
from dfdetect.model.detector import Detector
from dfdetect.model.registry import get_spec, known_backbones
from dfdetect.train.config import DEFAULTS
from dfdetect.train.losses import DetectorLoss
from dfdetect.train.model import TrainModule
from dfdetect.train.optim import build_optimizer
from dfdetect.train.settings import OptimConfig


def measure(step: Callable[[], None], batch: int, iters: int, device: torch.device) -> dict:
    """Median images/s over ``iters`` timed steps after one warm-up; peak CUDA memory (GiB)."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rates = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(batch / (time.perf_counter() - start))
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {"images_per_s": float(np.median(rates)), "peak_gib": peak}


def dfdetect_step(
    backbone: str, faces: torch.Tensor, device, precision: str, preprocess: bool
) -> Callable:
    """The trainer's step: [preprocess ->] features -> head -> CE + alignment + uniformity."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_config(
            DetectorConfig(backbone=backbone),
            pretrained_backbone=False,
            device=device,
            dtype=torch.float32,
        )
    det.train()
    module, loss = TrainModule(det, slerp=False), DetectorLoss()
    optimizer, _ = build_optimizer(
        det,
        OptimConfig(**DEFAULTS["optim"]),
        total_steps=1000,
        steps_per_epoch=100,
    )
    labels = torch.arange(len(faces), device=device) % 2
    ready = det.preprocess(faces)

    def step() -> None:
        pixels = det.preprocess(faces) if preprocess else ready
        with autocast_for(device, precision):
            logits, features, y = module(pixels, labels, None)
        loss(logits, features, y).total.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def reference_step(backbone: str, batch: int, device, precision: str) -> Callable:
    """Plain transformers: CLIPVisionModel, only LayerNorms + a linear head train, CE loss."""
    import transformers

    spec = get_spec(backbone)
    arch = {k: v for k, v in spec.arch.items() if k != "model_type"}
    model = transformers.CLIPVisionModel(transformers.CLIPVisionConfig(**arch)).to(device)
    for name, p in model.named_parameters():
        p.requires_grad_("norm" in name)  # pre_layrnorm, layer_norm1/2, post_layernorm
    head = nn.Linear(model.config.hidden_size, 2).to(device)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    size = model.config.image_size
    pixels = torch.randn(batch, 3, size, size, device=device)
    labels = torch.arange(batch, device=device) % 2

    def step() -> None:
        with autocast_for(device, precision):
            pooled = model(pixel_values=pixels).pooler_output
            logits = head(F.normalize(pooled, dim=-1))
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="vit-b16", help=f"one of {known_backbones()}")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    faces = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (args.batch_size, 256, 256, 3), dtype=np.uint8)
    ).to(device)
    results = {}
    for name, step in (
        ("dfdetect", dfdetect_step(args.backbone, faces, device, args.precision, True)),
        ("dfdetect-px", dfdetect_step(args.backbone, faces, device, args.precision, False)),
        ("transformers", reference_step(args.backbone, args.batch_size, device, args.precision)),
    ):
        results[name] = measure(step, args.batch_size, args.iters, device)
        del step
        if device.type == "cuda":
            torch.cuda.empty_cache()
    info = {
        "backbone": args.backbone,
        "batch_size": args.batch_size,
        "device": str(device),
        "precision": "bf16"
        if args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")
        else "fp32",
        "threads": torch.get_num_threads(),
        **results,
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{args.backbone}, batch {args.batch_size}, {device}, {info['precision']}")
    for name, r in results.items():
        peak = f", peak {r['peak_gib']:.2f} GiB" if r["peak_gib"] is not None else ""
        print(f"  {name:<13} {r['images_per_s']:9.2f} images/s{peak}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
