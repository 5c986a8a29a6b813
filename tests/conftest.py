"""Fixtures shared by the whole suite: the shared sample faces, the tiny-random detector and a
real headless Chromium."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFDETECT_SHARED", REPO.parent / "shared"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """ONNX exports made by ``--runtime auto`` go to a cache of this test session (subprocesses
    inherit it), never the user's ~/.cache."""
    previous = os.environ.get("DFDETECT_CACHE")
    os.environ["DFDETECT_CACHE"] = str(tmp_path_factory.mktemp("dfdetect-cache"))
    yield
    if previous is None:
        del os.environ["DFDETECT_CACHE"]
    else:
        os.environ["DFDETECT_CACHE"] = previous


@pytest.fixture(autouse=True)
def _quiet_tiny_random():
    """`tiny-random` warns on every use by design; tests that check the warning ask for it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tiny-random.*")
        yield


@pytest.fixture(scope="module")
def tiny_detector():
    """The tiny-random Detector on CPU, one per test module. Its warning is silenced here too:
    module fixtures are built before the function-scoped filter above applies."""
    from dfdetect import Detector

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tiny-random.*")
        return Detector.from_pretrained("tiny-random", device="cpu")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Real aligned face crops from ../shared/samples/faces; the test skips when absent."""
    path = SHARED / "samples" / "faces"
    if not path.is_dir():
        pytest.skip(f"shared samples not found at {path}")
    return path


@pytest.fixture(scope="session")
def sample_faces(samples_dir: Path) -> dict[str, list[Path]]:
    """Sample crops grouped as {"real": [...], "fake": [...]} from the samples' README mapping."""
    fake_sources = {
        ("FF", "DF"),
        ("FF", "F2F"),
        ("FF", "FS"),
        ("FF", "NT"),
        ("CDFv2", "Celeb-synthesis"),
    }
    groups: dict[str, list[Path]] = {"real": [], "fake": []}
    for png in sorted(samples_dir.glob("*/*/*/*.png")):
        dataset, source = png.parts[-4], png.parts[-3]
        groups["fake" if (dataset, source) in fake_sources else "real"].append(png)
    return groups


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep files worth looking at afterwards (screenshots, reports)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium driven by Playwright; skips when either is missing."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module (``usefixtures``): tiny models on a shared 2-core
    machine run far faster so."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy_root(samples_dir, tmp_path_factory):
    """A toy FF++ crop tree built from the shared samples (64 px crops)."""
    from dfdetect.data.toy import make_toy_dataset, video_folders

    return make_toy_dataset(video_folders(samples_dir), tmp_path_factory.mktemp("toy"), size=64)
