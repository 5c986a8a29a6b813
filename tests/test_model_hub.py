"""Hub resolution offline: the cache under HF_HOME is used, and missing weights give an error
that says how to provide them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from dfdetect import Detector
from dfdetect.errors import ModelNotFoundError
from dfdetect.model.config import DetectorConfig

SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    from dfdetect import Detector
    from dfdetect.errors import ModelNotFoundError
    for name in sys.argv[1:]:
        try:
            det = Detector.from_pretrained(name)
            print("LOADED", name, det.config.backbone, det.threshold)
        except ModelNotFoundError as err:
            print("ModelNotFoundError:", err)
    """
)


def assert_says_how_to_provide(message: str, repo_id: str) -> None:
    assert f"cannot get {repo_id!r}" in message
    assert "HF_HUB_OFFLINE" in message
    assert f"hf download {repo_id}" in message
    assert "pass that folder's path" in message


def cache_checkpoint(hf_home: Path, repo_id: str, threshold: float) -> None:
    """Put a tiny dfdetect checkpoint into HF_HOME's Hub cache layout under ``repo_id``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_pretrained("tiny-random")
    det.config.threshold = threshold
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    det.save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


@pytest.fixture()
def offline_hub(tmp_path, monkeypatch) -> Path:
    """This process's huggingface_hub, offline, with an empty cache under tmp_path/hf."""
    from huggingface_hub import constants

    hf_home = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    return hf_home


@pytest.mark.slow
def test_environment_variables_select_cache_and_offline_mode(tmp_path):
    """As a user runs it: HF_HOME and HF_HUB_OFFLINE set in a fresh process's environment."""
    cache_checkpoint(tmp_path / "hf", "someone/tiny-detector", 0.62)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    names = ["someone/tiny-detector", "yermandy/GenD_CLIP_L_14"]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded, missing = result.stdout.split("\n", 1)
    assert loaded == "LOADED someone/tiny-detector tiny-random 0.62"
    assert missing.startswith("ModelNotFoundError:")
    assert_says_how_to_provide(missing, "yermandy/GenD_CLIP_L_14")
    assert "HF_HUB_OFFLINE is set" in missing


def test_missing_detector_and_backbone_say_how_to_provide(offline_hub):
    with pytest.raises(ModelNotFoundError) as err:
        Detector.from_pretrained("yermandy/GenD_CLIP_L_14")
    assert_says_how_to_provide(str(err.value), "yermandy/GenD_CLIP_L_14")
    # the backbone of a user's own checkpoint, same
    with pytest.raises(ModelNotFoundError) as err:
        Detector.from_config(DetectorConfig(backbone="openai/clip-vit-base-patch16"))
    assert_says_how_to_provide(str(err.value), "openai/clip-vit-base-patch16")
    # an unregistered Hub id as backbone: its config.json is needed, same message
    with pytest.raises(ModelNotFoundError) as err:
        Detector.from_config(DetectorConfig(backbone="someone/custom-clip"))
    assert_says_how_to_provide(str(err.value), "someone/custom-clip")


def test_saved_checkpoint_needing_missing_backbone_fails_clearly(tmp_path, offline_hub):
    cache_checkpoint(offline_hub, "someone/tiny-detector", 0.3)
    assert Detector.from_pretrained("someone/tiny-detector").threshold == 0.3
    folder = tmp_path / "mine"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Detector.from_pretrained("tiny-random").save_pretrained(folder)
    config = (
        (folder / "config.json")
        .read_text()
        .replace('"tiny-random"', '"openai/clip-vit-base-patch32"')
    )
    (folder / "config.json").write_text(config)
    with pytest.raises(ModelNotFoundError) as err:
        Detector.from_pretrained(folder)
    assert_says_how_to_provide(str(err.value), "openai/clip-vit-base-patch32")
