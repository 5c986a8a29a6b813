"""Run mechanics: repeatable seeds, exact resume after a crash, config resolution, and two
DDP processes on gloo launched by torch.distributed.run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from dfdetect.data.toy import make_toy_dataset, video_folders
from dfdetect.model.checkpoint import read_safetensors
from dfdetect.train.config import ConfigError, preset_names, resolve_config
from dfdetect.train.trainer import Trainer
from test_train_e2e import toy_config

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def toy_root(samples_dir, tmp_path_factory):
    return make_toy_dataset(video_folders(samples_dir)[:4], tmp_path_factory.mktemp("toy"), size=48)


def _config(root, out, **run):
    config = toy_config(root, out, max_steps=6, warmup_steps=1, accumulate=2)
    config["data"]["val"] = []
    config["data"]["augment"] = {"enabled": True}  # seeded per (seed, epoch, sample)
    config["loss"]["slerp"] = True  # seeded per step
    config["run"].update(run)
    return config


def test_runs_repeat_and_a_crashed_run_resumes_to_the_same_result(toy_root, tmp_path, monkeypatch):
    full = Trainer(_config(toy_root, tmp_path / "full")).fit()
    crashed = _config(toy_root, tmp_path / "crashed", checkpoint_every=3)
    original = Trainer._micro_step

    def crash_after_three(self, batch, sync):
        if self.step == 3:
            raise KeyboardInterrupt  # as a killed job
        return original(self, batch, sync)

    monkeypatch.setattr(Trainer, "_micro_step", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        Trainer(crashed).fit()
    monkeypatch.setattr(Trainer, "_micro_step", original)
    first = pd.read_csv(tmp_path / "crashed" / "metrics.csv")
    expected = pd.read_csv(full / "metrics.csv")
    assert list(first["loss"]) == list(expected["loss"][:3])  # same seed: identical losses
    resumed = Trainer(crashed).fit()
    got = pd.read_csv(resumed / "metrics.csv")
    assert list(got["step"]) == list(range(1, 7))
    pd.testing.assert_series_equal(got["loss"], expected["loss"])
    a = read_safetensors(full / "checkpoints" / "last" / "model.safetensors")
    b = read_safetensors(resumed / "checkpoints" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert '"resumed_from": 3' in (resumed / "run.json").read_text()
    changed = _config(toy_root, tmp_path / "crashed")
    changed["data"]["frames_per_video"] = 2
    with pytest.raises(ConfigError, match="cannot resume, 'data' differs"):
        Trainer(changed).fit()


def test_config_layers_defaults_preset_file_and_overrides(tmp_path):
    assert {"clip_ln_paper", "gend"} <= set(preset_names())
    gend = resolve_config("gend", ["optim.lr=1e-4", "data.train=[{dataset: ff++, root: /x}]"])
    assert gend["optim"]["lr"] == 1e-4 and gend["optim"]["batch_size"] == 512
    assert gend["optim"]["restart_epochs"] == 10 and gend["model"]["face_crop"] == "gend"
    assert gend["data"]["train"] == [{"dataset": "ff++", "root": "/x"}]
    assert gend["loss"]["alignment"] == 0.1 and gend["data"]["augment"]["jpeg_quality"] == [40, 100]
    paper = resolve_config("clip_ln_paper")
    assert (paper["optim"]["lr"], paper["optim"]["min_lr"], paper["loss"]["slerp"]) == (
        8e-5,
        5e-5,
        True,
    )
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"optim": {"epochs": 2}, "data": {"train": [{"root": "/d"}]}}))
    mine = resolve_config(path, ["run.out=/tmp/o"])
    assert mine["optim"]["epochs"] == 2 and mine["run"]["out"] == "/tmp/o"
    assert mine["optim"]["lr"] == 8e-5  # default kept
    with pytest.raises(ConfigError, match=r"unknown key 'optim.lrr'.*known here: .*lr"):
        resolve_config(path, ["optim.lrr=1"])
    with pytest.raises(ConfigError, match="not divisible"):
        resolve_config(path, ["optim.batch_size=10", "optim.accumulate=3"])
    with pytest.raises(ConfigError, match="not key=value"):
        resolve_config(path, ["optim.lr"])


@pytest.mark.slow
def test_two_ddp_processes_on_gloo_stay_in_sync_and_write_one_run_folder(toy_root, tmp_path):
    config = _config(toy_root, tmp_path / "ddp", log_every=1)
    config["optim"].update(max_steps=3, accumulate=1)
    config["model"]["backbone"] = "tiny-random"
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # the agent's store binds port 0 and the workers share it: no race
        "--nproc-per-node",
        "2",
        "-m",
        "dfdetect",
        "train",
        "--config",
        str(path),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("run folder:") == 1  # only rank 0 reports
    run = yaml.safe_load((tmp_path / "ddp" / "run.json").read_text())
    assert run["world_size"] == 2 and run["steps"] == 3
    assert run["rank_divergence"] == 0.0  # both ranks end with identical parameters
    log = pd.read_csv(tmp_path / "ddp" / "metrics.csv")
    assert list(log["step"]) == [1, 2, 3]  # written once, not once per rank
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == ["last"]


def test_an_unreadable_crop_is_reported_and_training_goes_on(toy_root, tmp_path):
    root = tmp_path / "FF++"
    shutil.copytree(toy_root, root)
    bad = sorted((root / "real").glob("*/*.png"))[0]
    bad.write_bytes(b"")  # zero-byte crop
    config = _config(root, tmp_path / "run", checkpoint_every=1000)
    config["optim"].update(max_steps=4, accumulate=1)
    out = Trainer(config).fit()
    assert pd.read_csv(out / "metrics.csv")["step"].tolist() == [1, 2, 3, 4]
    failures = pd.read_csv(out / "failures.csv")
    assert failures.to_dict("records") == [{"path": str(bad), "reason": "zero_byte"}]
