"""What training refuses before its first step (bad config values: exit 2 naming the key, the
value and what is allowed; data without both classes: exit 2; an absent device: exit 4, in
every command that takes --device), checkpoints that survive a crash in their rename window,
and ``train --help`` listing every preset."""

from __future__ import annotations

import dataclasses
import pathlib
import shutil

import pytest
import torch

from dfdetect.cli import main as cli
from dfdetect.train.checkpoints import restore_checkpoint, resumable, save_checkpoint
from dfdetect.train.config import DEFAULTS, FREE_FORM, RULES, preset_names, resolve_config
from dfdetect.train.settings import TrainConfig
from dfdetect.train.trainer import Trainer
from test_train_runs import _config

pytestmark = pytest.mark.usefixtures("one_thread")

BAD_VALUES = [
    ("seed=abc", "seed='abc'"),
    ("seed=-1", "seed=-1"),
    ("run.log_every=0", "run.log_every=0"),
    ("run.checkpoint_every=0", "run.checkpoint_every=0"),
    ("run.val_batch_size=0", "run.val_batch_size=0"),
    ("run.val_every_steps=0", "run.val_every_steps=0"),
    ("run.resume=maybe", "run.resume='maybe'"),
    ("run.precision=fp16", "run.precision='fp16'"),
    ("data.frame_sampling=bogus", "data.frame_sampling='bogus'"),
    ("data.frames_per_video=0", "data.frames_per_video=0"),
    ("data.num_workers=-2", "data.num_workers=-2"),
    ("data.pair_fakes=2", "data.pair_fakes=2"),
    ("data.augment.hflip=x", "data.augment.hflip='x'"),
    ("model.adapter=lorra", "model.adapter='lorra'"),
    ("model.face_crop=dlib", "model.face_crop='dlib'"),
    ("optim.epochs=1.5", "optim.epochs=1.5"),
    ("optim.max_steps=0", "optim.max_steps=0"),
    ("optim.warmup_steps=-1", "optim.warmup_steps=-1"),
    ("optim.betas=[0.9]", "optim.betas=[0.9]"),
    ("optim.lr=.nan", "optim.lr=nan"),
    ("optim.grad_clip=0", "optim.grad_clip=0"),
    ("loss.uniformity_t=0", "loss.uniformity_t=0"),
    ("loss.slerp=yes please", "loss.slerp='yes please'"),
]


def _leaves(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and tuple(dotted.split(".")) not in FREE_FORM:
            keys |= _leaves(value, f"{dotted}.")
        elif tuple(dotted.split(".")) not in FREE_FORM:
            keys.add(dotted)
    return keys


def test_every_config_key_has_a_rule() -> None:
    assert set(RULES) == _leaves(DEFAULTS)


@pytest.mark.parametrize(("override", "named"), BAD_VALUES)
def test_a_bad_config_value_is_one_line_exit_2(override, named, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = cli(["train", "--config", "smoke", override, f"run.out={out}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("dfdetect train: error: ") and err.count("\n") == 1
    assert named in err and ("expected" in err or "must be" in err)
    assert not out.exists()


def test_every_preset_resolves_and_help_lists_each(capsys) -> None:
    names = preset_names()
    assert "smoke" in names
    with pytest.raises(SystemExit):
        cli(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"preset name ({', '.join(names)})" in help_text
    for name in names:  # every shipped preset passes validation as it is
        cli(["train", "--config", name, "--print-config"])


def test_every_preset_builds_a_frozen_train_config_that_writes_back_the_same() -> None:
    for name in preset_names():
        entry = "data.train=[{dataset: ff++, root: /x, split: train, real_only: true}]"
        mapping = resolve_config(name, [entry])
        config = TrainConfig.from_dict(mapping)
        assert config.optim.lr == mapping["optim"]["lr"] and config.seed == mapping["seed"]
        assert config.data.train[0].options == {"real_only": True}
        assert config.data.train[0].to_dict() == mapping["data"]["train"][0]
        assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.optim.lr = 1.0


def _without_fakes(toy_root, tmp_path):
    root = tmp_path / "no-fakes" / "FF++"
    shutil.copytree(toy_root, root)
    shutil.rmtree(root / "DF")
    return root


def _train(root, out, *overrides: str) -> int:
    """``dfdetect train --config smoke`` on the crop tree ``root`` (no validation)."""
    data = f"data.train=[{{dataset: ff++, root: {root}, split: train}}]"
    return cli(["train", "--config", "smoke", data, "data.val=[]", f"run.out={out}", *overrides])


def test_training_without_fakes_stops_before_the_first_step(toy_root, tmp_path) -> None:
    from dfdetect.data.samples import DatasetError

    config = _config(_without_fakes(toy_root, tmp_path), tmp_path / "run")
    with pytest.raises(DatasetError, match=r"data.train holds \d+ real and 0 fake faces"):
        Trainer(config).fit()
    assert not (tmp_path / "run").exists()


def test_training_without_fakes_exits_2_from_the_command(toy_root, tmp_path, capsys) -> None:
    root = _without_fakes(toy_root, tmp_path)
    code = _train(root, tmp_path / "run")
    err = capsys.readouterr().err
    assert code == 2 and "0 fake faces" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_validation_set_without_fakes_is_refused(toy_root, tmp_path) -> None:
    from dfdetect.data.samples import DatasetError

    config = _config(toy_root, tmp_path / "run")
    val = _without_fakes(toy_root, tmp_path)
    config["data"]["val"] = [{"dataset": "ff++", "root": str(val), "split": "val"}]
    with pytest.raises(DatasetError, match=r"data.val: dataset 'FF\+\+' holds only real faces"):
        Trainer(config)


COMMAND_ARGS = {
    "scan": ["{png}", "--db", "{tmp}/db.sqlite"],
    "serve": ["--data-dir", "{tmp}/serve"],
    "extract": ["{png}", "--out", "{tmp}/crops"],
    "train": ["--config", "smoke", "run.out={tmp}/run"],
    "evaluate": ["--model", "tiny-random", "--data", "x={tmp}", "--out", "{tmp}/eval"],
    "calibrate": ["--model", "tiny-random", "--data", "x={tmp}", "--out", "{tmp}/cal"],
    "robustness": ["--model", "tiny-random", "--data", "x={tmp}", "--out", "{tmp}/rob"],
}


@pytest.mark.parametrize("command", sorted(COMMAND_ARGS))
@pytest.mark.parametrize("device", ["warp9", "cuda:7"])
def test_an_absent_device_is_one_line_exit_4(command, device, tmp_path, capsys) -> None:
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that GPU")
    from PIL import Image

    png = tmp_path / "a.png"
    Image.new("RGB", (32, 32)).save(png)
    args = [a.format(png=png, tmp=tmp_path) for a in COMMAND_ARGS[command]]
    code = cli([command, *args, "--device", device])
    err = capsys.readouterr().err
    assert code == 4, err
    assert f"error: device {device!r}" in err and "Traceback" not in err
    leftovers = {p.name for p in tmp_path.iterdir()} - {"a.png"}
    assert leftovers <= {"serve"}, leftovers  # nothing scanned, extracted or trained


def _state(step: int) -> dict:
    return {"step": step}


def test_a_crash_in_the_rename_window_keeps_the_newest_checkpoint(
    tiny_detector, tmp_path, monkeypatch
) -> None:
    last = tmp_path / "last"
    save_checkpoint(tiny_detector, last, _state(1))
    rename = pathlib.Path.rename
    for crash_at in (1, 2):  # before "last" -> "last.old", before "last.tmp" -> "last"
        calls = 0

        def crashing(self, target, crash_at=crash_at):
            nonlocal calls
            calls += 1
            if calls == crash_at:
                raise KeyboardInterrupt  # as a killed job
            return rename(self, target)

        monkeypatch.setattr(pathlib.Path, "rename", crashing)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(tiny_detector, last, _state(1 + crash_at))
        monkeypatch.setattr(pathlib.Path, "rename", rename)
        assert resumable(last)[0].name == "last.tmp"
        assert restore_checkpoint(tiny_detector, last)["step"] == 1 + crash_at
        assert sorted(p.name for p in tmp_path.iterdir())[0] == "last"  # moved into place


def test_a_torn_newest_checkpoint_falls_back_to_the_previous_one(tiny_detector, tmp_path) -> None:
    last = tmp_path / "last"
    save_checkpoint(tiny_detector, last, _state(3))
    shutil.copytree(last, tmp_path / "last.old")
    save_checkpoint(tiny_detector, tmp_path / "newer", _state(6))
    (tmp_path / "newer").rename(tmp_path / "last.tmp")
    weights = tmp_path / "last.tmp" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # torn: written but not flushed
    assert [p.name for p in resumable(last)] == ["last.tmp", "last", "last.old"]
    assert restore_checkpoint(tiny_detector, last)["step"] == 3
    (last / "trainer_state.pt").write_bytes(b"\x00" * 10)  # the next one torn as well
    assert restore_checkpoint(tiny_detector, last)["step"] == 3  # from last.old
    unfinished = tmp_path / "x"
    save_checkpoint(tiny_detector, unfinished, None)  # no trainer state: not resumable
    assert resumable(unfinished) == []


def test_a_run_killed_while_renaming_its_checkpoint_resumes_there(
    toy_root, tmp_path, monkeypatch
) -> None:
    config = _config(toy_root, tmp_path / "run", checkpoint_every=3)
    rename = pathlib.Path.rename

    def killed(self, target):
        if self.name == "last.tmp" and target.name == "last":
            raise KeyboardInterrupt  # the job dies between its two renames
        return rename(self, target)

    monkeypatch.setattr(pathlib.Path, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config).fit()
    monkeypatch.setattr(pathlib.Path, "rename", rename)
    assert not (tmp_path / "run" / "checkpoints" / "last").exists()
    resumed = Trainer(_config(toy_root, tmp_path / "run", checkpoint_every=3)).fit()
    assert '"resumed_from": 3' in (resumed / "run.json").read_text()


def test_unreadable_crops_make_the_command_exit_1_with_the_run_done(
    toy_root, tmp_path, capsys
) -> None:
    root = tmp_path / "FF++"
    shutil.copytree(toy_root, root)
    bad = sorted((root / "real").glob("*/*.png"))[0]
    bad.write_bytes(b"")
    out = tmp_path / "run"
    code = _train(root, out, "optim.epochs=1", "run.progress=false")
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert f"1 unreadable crops were skipped: {out / 'failures.csv'}" in captured.err
    assert (out / "checkpoints" / "last" / "model.safetensors").is_file()  # the rest was done
