"""Batched tensor preprocessing against the transformers CLIP image processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dfdetect.model.config import PreprocessConfig
from dfdetect.model.families import get_family
from dfdetect.model.preprocess import preprocess_faces, resized_shape
from dfdetect.model.registry import get_spec

try:  # transformers 5 without torchvision: the PIL backend; 4.x: the classic class
    from transformers import CLIPImageProcessorPil as ReferenceProcessor
except ImportError:  # pragma: no cover
    from transformers import CLIPImageProcessor as ReferenceProcessor

TOLERANCE = 1 / 255 + 1e-5  # one uint8 level (PIL rounds in fixed point), plus float slack


def reference(images: list[np.ndarray], config: PreprocessConfig) -> torch.Tensor:
    processor = ReferenceProcessor(
        size={"shortest_edge": config.resize},
        crop_size={"height": config.crop_size, "width": config.crop_size},
        image_mean=list(config.mean),
        image_std=list(config.std),
    )
    pil = [Image.fromarray(image) for image in images]
    return torch.as_tensor(np.asarray(processor(images=pil, return_tensors="np")["pixel_values"]))


def max_pixel_error(ours: torch.Tensor, theirs: torch.Tensor, config: PreprocessConfig) -> float:
    """Largest difference in [0, 1] pixel units (undoing the normalisation); also checks that
    pixels one level apart are a minority, so a systematic shift cannot hide under it."""
    std = torch.tensor(config.std).view(1, 3, 1, 1)
    error = (ours - theirs).abs() * std
    assert float(error.mean()) < 0.5 / 255  # most pixels agree exactly
    return float(error.max())


def test_matches_clip_processor_on_sample_faces(sample_faces):
    paths = sample_faces["real"][:3] + sample_faces["fake"][:3]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    config = get_family("clip").preprocess
    ours = preprocess_faces(images, config)
    assert ours.shape == (len(images), 3, 224, 224)
    assert max_pixel_error(ours, reference(images, config), config) <= TOLERANCE


@pytest.mark.parametrize("size", [(300, 200), (181, 517), (224, 225), (97, 130), (640, 480)])
def test_matches_clip_processor_on_non_square_images(size):
    rng = np.random.default_rng(sum(size))
    h, w = size
    # a smooth gradient plus noise: both resampling regimes matter
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    image = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    config = get_family("clip").preprocess
    ours = preprocess_faces([image], config)
    assert max_pixel_error(ours, reference([image], config), config) <= TOLERANCE


def test_336_input_matches_processor():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (256, 300, 3), dtype=np.uint8)
    config = get_spec("vit-l14-336").preprocess
    assert config.crop_size == 336
    assert (
        max_pixel_error(preprocess_faces([image], config), reference([image], config), config)
        <= TOLERANCE
    )


def test_resized_shape_rounds_like_transformers():
    config = get_family("clip").preprocess
    assert resized_shape(300, 200, config) == (336, 224)
    assert resized_shape(181, 517, config) == (224, 639)  # int(224 * 517 / 181) = 639
    exact = PreprocessConfig(224, 224, "exact", "bicubic")
    assert resized_shape(181, 517, exact) == (224, 224)


def test_identity_sized_input_is_only_normalised():
    config = get_family("clip").preprocess
    image = np.full((224, 224, 3), 200, dtype=np.uint8)
    out = preprocess_faces([image], config)
    expected = [(200 / 255 - m) / s for m, s in zip(config.mean, config.std, strict=True)]
    assert out[0, :, 100, 100].tolist() == pytest.approx(expected, rel=1e-5)
