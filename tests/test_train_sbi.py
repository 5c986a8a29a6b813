"""Training from real crops alone with SBI pseudo-fakes made in the data loader: balanced,
paired, repeatable batches; a short run lowers the loss and its checkpoint records the hull and
scans."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from dfdetect.cli import main as cli
from dfdetect.data.samples import DatasetError
from dfdetect.train.config import resolve_config
from dfdetect.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def real_root(sample_faces, tmp_path_factory):
    """The shared real crops alone, at 64 px: ``real/<video>/<frame>.png``."""
    root = tmp_path_factory.mktemp("reals")
    for path in sample_faces["real"]:
        folder = root / "real" / f"{path.parent.parent.name}_{path.parent.name}"
        folder.mkdir(parents=True, exist_ok=True)
        small = cv2.resize(cv2.imread(str(path)), (64, 64), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / path.name), small)
    return root


def _config(root, out, **optim):
    return resolve_config(
        {
            "model": {"backbone": "tiny-random", "pretrained_backbone": False},
            "data": {
                "train": [{"dataset": "folder", "root": str(root)}],
                "num_workers": 0,
                "augment": {"enabled": False},
                "pseudo_fakes": {"method": "sbi"},
            },
            "optim": {"lr": 0.1, "min_lr": 1e-3, "batch_size": 8, "warmup_steps": 1, **optim},
            "run": {"out": str(out), "log_every": 10, "progress": False, "resume": False},
        }
    )


def test_the_loader_pairs_each_real_with_its_sbi_in_balanced_batches(real_root, tmp_path):
    trainer = Trainer(_config(real_root, tmp_path / "run", max_steps=1))
    n = len(trainer.train_samples) // 2
    assert n == 12 and [s.label for s in trainer.train_samples] == [0] * n + [1] * n
    twin = trainer.train_samples[n]
    assert (
        twin.path == trainer.train_samples[0].path
        and twin.pair == trainer.train_samples[0].video_key
    )
    batches = list(trainer._loader(0, 0))
    assert len(batches) == 3
    for batch in batches:
        labels, indices = batch.labels.tolist(), batch.indices.tolist()
        assert labels == [1, 0] * 4  # balanced: each SBI right before its own real
        assert all(indices[k] == indices[k + 1] + n for k in range(0, 8, 2))
        real, fake = batch.images[1].numpy(), batch.images[0].numpy()
        assert np.abs(real.astype(int) - fake).mean() > 0.5  # the twin is blended
    again = trainer.dataset[n][1]
    np.testing.assert_array_equal(again, trainer.dataset[n][1])  # seeded by (seed, epoch, index)
    trainer.dataset.set_epoch(1)
    assert not np.array_equal(again, trainer.dataset[n][1])  # a new blend each epoch
    np.testing.assert_array_equal(trainer.dataset[0][1], cv2.imread(str(twin.path))[..., ::-1])
    with pytest.raises(DatasetError, match="unknown keys"):
        resolve_config(_config(real_root, tmp_path), ["data.pseudo_fakes={method: sbi, x: 1}"])
    with pytest.raises(DatasetError, match="method must be one of"):
        resolve_config(_config(real_root, tmp_path), ["data.pseudo_fakes={method: dream}"])


def test_real_crops_alone_train_and_the_checkpoint_scans(real_root, sample_faces, tmp_path, capsys):
    out = Trainer(_config(real_root, tmp_path / "run", max_steps=150)).fit()
    log = pd.read_csv(out / "metrics.csv")
    assert len(log) == 15
    assert log["ce"].tail(3).mean() < log["ce"].head(3).mean() - 0.05  # the loss falls
    last = out / "checkpoints" / "last"
    record = json.loads((last / "config.json").read_text())["pseudo_fakes"]
    assert record["method"] == "sbi" and record["hull"] == "five-point-v1"
    assert record["landmarks"] == "template:gend" and record["keep_fakes"] is False
    results = tmp_path / "scan.jsonl"
    face = sample_faces["fake"][0]
    code = cli(["scan", str(face), "--model", str(last), "--db", str(tmp_path / "db.sqlite"),
                "--out", str(results)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    row = json.loads(results.read_text().splitlines()[0])
    assert row["status"] == "ok" and len(row["faces"]) == 1 and 0.0 <= row["prob"] <= 1.0
