"""Each robustness perturbation against its definition (DeeperForensics-1.0 and the real-world
types): published parameters, the effect each level must have, and fixed seeds."""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np
import pytest

from dfdetect.robustness.h264 import encode_clip, h264_roundtrip, has_libx264
from dfdetect.robustness.perturbations import (
    DEEPERFORENSICS,
    LEVELS,
    PERTURBATIONS,
    Cell,
    block_count,
    encode_jpeg,
    parse_perturb_arg,
    scaled_bitrate,
)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A smooth, colourful 256 px test image with edges (sharpness to lose, chroma to drop)."""
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), (256, 256))
    cv2.circle(image, (128, 128), 60, (250, 40, 40), -1)
    cv2.rectangle(image, (20, 20), (90, 70), (20, 200, 60), -1)
    return image


def _sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_the_published_deeperforensics_levels():
    assert DEEPERFORENSICS == ("CS", "CC", "BW", "GNC", "GB", "JPEG", "VC")
    params = {code: PERTURBATIONS[code].params for code in DEEPERFORENSICS}
    assert params == {
        "CS": (0.4, 0.3, 0.2, 0.1, 0.0),
        "CC": (0.85, 0.725, 0.6, 0.475, 0.35),
        "BW": (16, 32, 48, 64, 80),
        "GNC": (0.001, 0.002, 0.005, 0.01, 0.05),
        "GB": (7, 9, 13, 17, 21),
        "JPEG": (2, 3, 4, 5, 6),
        "VC": (30, 32, 35, 38, 40),
    }
    assert all(len(p.params) == len(LEVELS) for p in PERTURBATIONS.values())
    assert Cell("GB", 3).param_label() == "kernel=13" and Cell().name == "clean"


def test_saturation_zero_gives_grey_and_levels_lower_chroma(face):
    grey = Cell("CS", 5).apply(face, 0)
    assert int((grey.max(axis=2).astype(int) - grey.min(axis=2)).max()) <= 1
    luma = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(int)
    assert np.abs(cv2.cvtColor(grey, cv2.COLOR_RGB2GRAY).astype(int) - luma).max() <= 2
    chroma = []
    for level in LEVELS:
        ycrcb = cv2.cvtColor(Cell("CS", level).apply(face, 0), cv2.COLOR_RGB2YCrCb)
        chroma.append(float(np.abs(ycrcb[:, :, 1:].astype(float) - 128).mean()))
    assert all(a > b for a, b in pairwise(chroma))  # less colour at every level
    full = float(
        np.abs(cv2.cvtColor(face, cv2.COLOR_RGB2YCrCb)[:, :, 1:].astype(float) - 128).mean()
    )
    assert chroma[0] == pytest.approx(0.4 * full, rel=0.05)  # level 1 keeps 40 % of the chroma


def test_contrast_multiplies_pixels(face):
    for level in LEVELS:
        factor = PERTURBATIONS["CC"].param(level)
        expected = (face.astype(np.float32) * factor).astype(np.uint8)
        np.testing.assert_array_equal(Cell("CC", level).apply(face, 0), expected)


def test_blur_kernels_as_published_and_sharpness_falls(face):
    impulse = np.zeros((64, 64, 3), np.float32)  # float: the exact impulse response
    impulse[32, 32] = 1.0
    for level, k in zip(LEVELS, (7, 9, 13, 17, 21), strict=True):
        spread = Cell("GB", level).apply(impulse, 0)[:, :, 0].astype(float)
        x = np.arange(k) - k // 2
        g = np.exp(-(x**2) / (2 * (k / 6.0) ** 2))
        expected = np.outer(g, g) / g.sum() ** 2  # k x k, sigma = k / 6
        window = spread[32 - k // 2 : 32 + k // 2 + 1, 32 - k // 2 : 32 + k // 2 + 1]
        np.testing.assert_allclose(window, expected, atol=1e-6)
        assert spread.sum() == pytest.approx(window.sum())  # nothing outside k x k
    sharpness = [_sharpness(face)] + [_sharpness(Cell("GB", v).apply(face, 0)) for v in LEVELS]
    assert all(a > b for a, b in pairwise(sharpness))


def test_pixelation_and_resize_lose_detail_level_by_level(face):
    for code in ("JPEG", "RESIZE"):
        errors = [np.abs(Cell(code, v).apply(face, 0).astype(int) - face).mean() for v in LEVELS]
        assert all(a < b for a, b in pairwise(errors)), code
        assert Cell(code, 5).apply(face, 0).shape == face.shape


def test_block_counts_as_published():
    assert [block_count(256, 256, p) for p in PERTURBATIONS["BW"].params] == [16, 32, 48, 64, 80]
    assert block_count(720, 1280, 16) == 32  # 16 x (720 // 256)
    assert block_count(1080, 1920, 80) == 320
    assert block_count(224, 224, 16) == 16  # under 256 px: one multiple, not none


def test_blocks_are_grey_8x8_and_as_many_as_published():
    image = np.full((2048, 2048, 3), 30, np.uint8)  # 8 x 16 = 128 blocks at level 1
    out = Cell("BW", 1).apply(image, 3)
    changed = (out != image).any(axis=2)
    assert set(np.unique(out[changed])) == {128}
    n, _, stats, _ = cv2.connectedComponentsWithStats(changed.astype(np.uint8))
    assert 120 <= n - 1 <= 128  # 128 blocks, a few may touch
    assert stats[1:, cv2.CC_STAT_AREA].min() >= 64 and changed.sum() <= 128 * 64


def test_gaussian_noise_has_the_reference_variance():
    flat = np.full((256, 256, 3), 128, np.uint8)
    stds = []
    for level in LEVELS:
        noisy = Cell("GNC", level).apply(flat, 0)
        stds.append(float(cv2.cvtColor(noisy, cv2.COLOR_RGB2YCrCb)[:, :, 0].astype(float).std()))
    # luma noise: sqrt(var) in [0, 1] units of the studio range, i.e. 255 * 255 / 219 levels
    expected = 255 * 255 / 219 * np.sqrt(0.001)
    assert stds[0] == pytest.approx(expected, rel=0.08)
    assert all(a < b for a, b in pairwise(stds))


def test_lower_jpeg_quality_gives_smaller_files(face):
    sizes = [len(encode_jpeg(face, q)) for q in PERTURBATIONS["JPEGQ"].params]
    assert all(a > b for a, b in pairwise(sizes))
    errors = [np.abs(Cell("JPEGQ", v).apply(face, 0).astype(int) - face).mean() for v in LEVELS]
    assert all(a < b for a, b in pairwise(errors))


def test_h264_higher_crf_and_lower_bitrate_give_fewer_bits(face):
    assert has_libx264()
    clip = [np.roll(face, 3 * t, axis=1) for t in range(8)]
    crf_sizes = [len(encode_clip(clip, crf=int(c))) for c in PERTURBATIONS["VC"].params]
    assert all(a > b for a, b in pairwise(crf_sizes))
    rates = [scaled_bitrate(k, 256, 256) for k in PERTURBATIONS["H264"].params]
    assert rates[0] == round(4000e3 * 256 * 256 / (1280 * 720))
    rate_sizes = [len(encode_clip(clip, bitrate=r)) for r in rates]
    assert all(a > b for a, b in pairwise(rate_sizes))
    back = h264_roundtrip(clip, crf=30)
    assert len(back) == 8 and back[0].shape == face.shape
    assert np.abs(back[0].astype(int) - face).mean() < 12  # a faithful, lossy copy
    odd = h264_roundtrip([face[:255, :201]], crf=30)[0]  # odd sides are padded, then cut
    assert odd.shape == (255, 201, 3)


@pytest.mark.parametrize("code", list(PERTURBATIONS))
def test_same_seed_same_pixels(code, face):
    a, b = Cell(code, 3).apply(face, 7), Cell(code, 3).apply(face, 7)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == face.shape and not np.array_equal(a, face)
    if code in ("BW", "GNC"):  # the random ones: another seed, other pixels
        assert not np.array_equal(a, Cell(code, 3).apply(face, 8))


def test_perturb_arguments():
    assert parse_perturb_arg("gb:1,5") == [Cell("GB", 1), Cell("GB", 5)]
    assert len(parse_perturb_arg("df")) == 35 and len(parse_perturb_arg("all")) == 50
    assert parse_perturb_arg("VC") == [Cell("VC", v) for v in LEVELS]
    with pytest.raises(ValueError, match=r"unknown perturbation 'blur'.*GB"):
        parse_perturb_arg("blur")
    with pytest.raises(ValueError, match="1-5"):
        parse_perturb_arg("GB:0,6")
    with pytest.raises(ValueError, match="integers"):
        parse_perturb_arg("GB:x")
