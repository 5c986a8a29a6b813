"""AdamW with weight decay chosen by parameter shape, and cosine-with-warm-up schedules."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

from dfdetect.train.settings import OptimConfig


def parameter_groups(named: Iterable[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict]:
    """Trainable parameters in two groups: >= 2-D (matrices) with ``weight_decay``, 1-D (biases,
    LayerNorm affine) without. Frozen parameters are left out."""
    decay, no_decay = [], []
    for _, p in named:
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": no_decay, "weight_decay": 0.0}]
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    return groups


def cosine_factor(
    total_steps: int, warmup_steps: int, base_lr: float, min_lr: float, cycle_steps: int | None
) -> Callable[[int], float]:
    """Multiplier of ``base_lr`` at each step: linear warm-up from 0, then cosine decay to
    ``min_lr`` over the rest (or over each ``cycle_steps``-long cycle, restarting)."""
    floor = min_lr / base_lr if base_lr > 0 else 0.0

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = cycle_steps or max(1, total_steps - warmup_steps)
        progress = ((step - warmup_steps) % span) / span
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_optimizer(
    model: nn.Module, optim: OptimConfig, total_steps: int, steps_per_epoch: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and its LambdaLR schedule from the config's ``optim`` section."""
    optimizer = torch.optim.AdamW(
        parameter_groups(model.named_parameters(), optim.weight_decay),
        lr=optim.lr,
        betas=optim.betas,
    )
    cycle = optim.restart_epochs * steps_per_epoch if optim.restart_epochs else None
    factor = cosine_factor(total_steps, optim.warmup_steps, optim.lr, optim.min_lr, cycle)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
