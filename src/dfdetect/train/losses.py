"""Losses of the method: cross-entropy, label-aware alignment, uniformity (Wang & Isola 2020)
and within-class slerp feature augmentation. Features are expected L2-normalised."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dfdetect.train.settings import LossConfig


def _pair_indices(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (i, j) of every unordered pair i < j among ``n`` items."""
    i, j = torch.triu_indices(n, n, offset=1, device=device)
    return i, j


def alignment_loss(
    features: torch.Tensor, labels: torch.Tensor, alpha: float = 2.0
) -> torch.Tensor:
    """Mean of ``||x_i - x_j||^alpha`` over all pairs i < j with the same label (0 if none)."""
    i, j = _pair_indices(len(features), features.device)
    same = labels[i] == labels[j]
    if not bool(same.any()):
        return features.sum() * 0.0  # keeps the graph; no positive pair in this batch
    dist = (features[i[same]] - features[j[same]]).norm(dim=-1)
    return dist.pow(alpha).mean()


def uniformity_loss(features: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """``log mean exp(-t ||x_i - x_j||^2)`` over all pairs i < j (needs at least two)."""
    if len(features) < 2:
        raise ValueError("uniformity needs at least two features")
    i, j = _pair_indices(len(features), features.device)
    sq = (features[i] - features[j]).pow(2).sum(dim=-1)
    return torch.logsumexp(-t * sq, dim=0) - math.log(len(sq))


def slerp(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation between unit rows of ``x`` and ``y`` at fractions ``t`` (B,).

    Nearly parallel pairs fall back to normalised linear interpolation.
    """
    t = t.unsqueeze(-1)
    cos = (x * y).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    safe = sin.abs() > eps
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    spherical = (torch.sin((1 - t) * omega) * x + torch.sin(t * omega) * y) / sin_safe
    linear = F.normalize((1 - t) * x + t * y, dim=-1)
    return torch.where(safe, spherical, linear)


def slerp_augment(
    features: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One new feature per row: slerp towards a random other row of the same label,
    t ~ U[0, 1]. Rows without a same-label partner are returned unchanged. Labels are kept."""
    n = len(features)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    same.fill_diagonal_(False)
    scores = torch.rand((n, n), generator=generator, device=features.device)
    scores = torch.where(same, scores, torch.full_like(scores, -1.0))
    partner = scores.argmax(dim=1)
    has_partner = same.any(dim=1)
    partner = torch.where(has_partner, partner, torch.arange(n, device=features.device))
    t = torch.rand(n, generator=generator, device=features.device).to(features.dtype)
    return slerp(features, features[partner], t)


@dataclass
class LossTerms:
    """The total loss and its parts (detached parts are for logging)."""

    total: torch.Tensor
    cross_entropy: torch.Tensor
    alignment: torch.Tensor
    uniformity: torch.Tensor


class DetectorLoss(nn.Module):
    """``w_ce * CE + w_align * alignment + w_unif * uniformity`` (paper weights 1, 0.1, 0.5)."""

    def __init__(
        self,
        ce_weight: float = 1.0,
        alignment_weight: float = 0.1,
        uniformity_weight: float = 0.5,
        alpha: float = 2.0,
        t: float = 2.0,
    ) -> None:
        super().__init__()
        self.ce_weight, self.alignment_weight = ce_weight, alignment_weight
        self.uniformity_weight, self.alpha, self.t = uniformity_weight, alpha, t

    def forward(
        self, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor
    ) -> LossTerms:
        """Loss of ``logits`` (B, 2) and L2-normalised ``features`` (B, d) for ``labels`` (B,)."""
        ce = F.cross_entropy(logits.float(), labels)
        features = features.float()
        align = alignment_loss(features, labels, self.alpha)
        unif = uniformity_loss(features, self.t) if len(features) > 1 else ce * 0.0
        total = self.ce_weight * ce + self.alignment_weight * align
        total = total + self.uniformity_weight * unif
        return LossTerms(total, ce.detach(), align.detach(), unif.detach())

    @classmethod
    def from_config(cls, loss: LossConfig) -> DetectorLoss:
        """The loss weighted as the config's ``loss`` section says."""
        return cls(
            loss.ce, loss.alignment, loss.uniformity, loss.alignment_alpha, loss.uniformity_t
        )
