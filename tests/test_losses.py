"""Losses against values worked out by hand on small tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dfdetect.train.losses import (
    DetectorLoss,
    alignment_loss,
    slerp,
    slerp_augment,
    uniformity_loss,
)

# Three unit vectors in the plane: e1, e2 and -e1.
E1, E2, NEG_E1 = [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]


def test_alignment_is_mean_squared_distance_of_same_label_pairs():
    x = torch.tensor([E1, E2, NEG_E1, E1])
    labels = torch.tensor([0, 0, 1, 1])
    # same-label pairs: (e1, e2): |d|^2 = 2 ; (-e1, e1): |d|^2 = 4  -> mean 3
    assert alignment_loss(x, labels).item() == pytest.approx(3.0)
    # alpha = 1: distances sqrt(2) and 2
    assert alignment_loss(x, labels, alpha=1.0).item() == pytest.approx((math.sqrt(2) + 2) / 2)


def test_alignment_of_three_same_label_points_uses_every_pair():
    x = torch.tensor([E1, E2, NEG_E1])
    labels = torch.tensor([1, 1, 1])
    # pairs: (e1,e2) 2, (e1,-e1) 4, (e2,-e1) 2 -> mean 8/3
    assert alignment_loss(x, labels).item() == pytest.approx(8 / 3)


def test_alignment_without_positive_pairs_is_zero_and_differentiable():
    x = torch.tensor([E1, E2], requires_grad=True)
    loss = alignment_loss(x, torch.tensor([0, 1]))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_uniformity_is_log_mean_exp_of_pairwise_distances():
    x = torch.tensor([E1, E2, NEG_E1])
    # squared distances over pairs: 2, 4, 2; t = 2 -> log((2 e^-4 + e^-8) / 3)
    expected = math.log((2 * math.exp(-4) + math.exp(-8)) / 3)
    assert uniformity_loss(x).item() == pytest.approx(expected, rel=1e-6)
    assert uniformity_loss(x, t=1.0).item() == pytest.approx(
        math.log((2 * math.exp(-2) + math.exp(-4)) / 3), rel=1e-6
    )


def test_uniformity_of_identical_points_is_zero_and_needs_two():
    x = torch.tensor([E1, E1])
    assert uniformity_loss(x).item() == pytest.approx(0.0)
    with pytest.raises(ValueError):
        uniformity_loss(x[:1])


def test_slerp_follows_the_great_circle():
    x, y = torch.tensor([E1]), torch.tensor([E2])
    for t in (0.0, 0.25, 0.5, 1.0):
        out = slerp(x, y, torch.tensor([t]))
        angle = t * math.pi / 2  # the arc from e1 to e2 at constant speed
        assert out[0].tolist() == pytest.approx([math.cos(angle), math.sin(angle)], abs=1e-6)


def test_slerp_of_parallel_vectors_returns_the_vector():
    x = torch.tensor([[0.6, 0.8]])
    assert slerp(x, x.clone(), torch.tensor([0.3]))[0].tolist() == pytest.approx([0.6, 0.8])


def test_slerp_augment_stays_within_class_on_the_sphere():
    # class 0 lives on the arc between e1 and e2 (first quadrant); class 1 is alone.
    x = F.normalize(torch.tensor([E1, E2, [1.0, 1.0], [-1.0, -2.0]]), dim=-1)
    labels = torch.tensor([0, 0, 0, 1])
    out = slerp_augment(x, labels, generator=torch.Generator().manual_seed(3))
    assert out.norm(dim=-1).tolist() == pytest.approx([1.0] * 4, abs=1e-6)
    assert bool((out[:3] >= -1e-6).all())  # still inside the class-0 arc
    assert out[3].tolist() == pytest.approx(x[3].tolist())  # no partner: unchanged
    assert not torch.allclose(out[:3], x[:3])


def test_detector_loss_combines_terms_with_brief_weights():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    x = torch.tensor([E1, E2, NEG_E1])
    # cross-entropy by hand
    ce = (
        -(
            math.log(math.exp(2) / (math.exp(2) + 1))
            + math.log(math.e / (1 + math.e))
            + math.log(0.5)
        )
        / 3
    )
    align = 2.0  # one same-label pair (e2, -e1): squared distance 2
    unif = math.log((2 * math.exp(-4) + math.exp(-8)) / 3)
    terms = DetectorLoss()(logits, x, labels)
    assert terms.cross_entropy.item() == pytest.approx(ce, rel=1e-6)
    assert terms.alignment.item() == pytest.approx(align)
    assert terms.uniformity.item() == pytest.approx(unif, rel=1e-6)
    assert terms.total.item() == pytest.approx(ce + 0.1 * align + 0.5 * unif, rel=1e-6)
