"""The training loop: LayerNorm tuning of a detector with plain PyTorch (DDP under torchrun)."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from dfdetect.data.dataset import Batch, Collate, FrameDataset
from dfdetect.data.provenance import recorded_preset
from dfdetect.data.samples import FAKE, REAL, DatasetError, FrameSample
from dfdetect.data.sampling import EpochSampler
from dfdetect.data.specs import open_entries
from dfdetect.errors import DfdetectError
from dfdetect.evaluate.scoring import autocast_for
from dfdetect.progress import progress_bar
from dfdetect.synth.training import add_pseudo_fakes
from dfdetect.train import distributed
from dfdetect.train.checkpoints import (
    load_checkpoint,
    restore_checkpoint,
    resumable,
    save_checkpoint,
)
from dfdetect.train.config import ConfigError, dump_config, load_yaml, resolve_config
from dfdetect.train.logs import RunLogger
from dfdetect.train.losses import DetectorLoss
from dfdetect.train.model import TrainModule, build_detector
from dfdetect.train.optim import build_optimizer
from dfdetect.train.settings import TrainConfig
from dfdetect.train.validation import validate


def check_classes(train: Sequence[FrameSample], val: Sequence[FrameSample]) -> None:
    """Raise :class:`DatasetError` unless the training faces hold both classes and every
    validation dataset does too (else its video AP, and the "best" checkpoint, mean nothing).
    Pseudo-fake twins (``data.pseudo_fakes``) are fakes here: real faces alone then suffice."""
    counts = Counter(s.label for s in train)
    if not counts[REAL] or not counts[FAKE]:
        raise DatasetError(
            f"data.train holds {counts[REAL]} real and {counts[FAKE]} fake faces: training "
            "needs both classes (check each entry's root, split and labels)"
        )
    for dataset, labels in _labels_by_dataset(val).items():
        if len(labels) < 2:
            have = "real" if REAL in labels else "fake"
            raise DatasetError(
                f"data.val: dataset {dataset!r} holds only {have} faces: its video AP is "
                "undefined (validate on both classes or leave it out of data.val)"
            )


def _labels_by_dataset(samples: Sequence[FrameSample]) -> dict[str, set[int]]:
    labels: dict[str, set[int]] = {}
    for s in samples:
        labels.setdefault(s.dataset, set()).add(s.label)
    return labels


class Trainer:
    """One training run into ``config.run.out``; :meth:`fit` returns the run folder.

    ``config`` is a :class:`TrainConfig` or a resolved config mapping (built into one here)."""

    def __init__(self, config: TrainConfig | Mapping[str, Any]) -> None:
        if not isinstance(config, TrainConfig):
            config = TrainConfig.from_dict(config)
        self.config = config.with_expanded_roots()  # the run folder records real paths
        self.out = Path(config.run.out)
        self.info, self.device = distributed.setup(config.run.device)
        torch.manual_seed(config.seed)
        synthesize = self._open_data()
        optim, world = config.optim, self.info.world_size
        if optim.batch_size % (world * optim.accumulate):
            raise ConfigError(
                f"optim.batch_size {optim.batch_size} is not divisible by "
                f"{world} processes x accumulate {optim.accumulate}"
            )
        self.micro = optim.batch_size // (world * optim.accumulate)
        check_classes(self.train_samples, self.val_samples)
        self.sampler = EpochSampler(
            self.train_samples,
            seed=config.seed,
            pair_fakes=config.data.pair_fakes,
            balance=config.data.balance,
            rank=self.info.rank,
            world_size=world,
        )
        self.dataset = FrameDataset(
            self.train_samples, config.data.augment, config.seed, synthesize
        )
        self.steps_per_epoch = len(self.sampler) // (self.micro * optim.accumulate)
        if self.steps_per_epoch == 0:
            raise DatasetError(
                f"{len(self.train_samples)} training frames make no full batch of "
                f"{optim.batch_size}: lower optim.batch_size"
            )
        self.total_steps = optim.max_steps or optim.epochs * self.steps_per_epoch
        self.optimizer, self.scheduler = build_optimizer(
            self.detector, optim, self.total_steps, self.steps_per_epoch
        )
        self.criterion = DetectorLoss.from_config(config.loss)
        module = TrainModule(self.detector, config.loss.slerp)
        self.model = (
            DistributedDataParallel(
                module, device_ids=[self.device] if self.device.type == "cuda" else None
            )
            if self.info.enabled
            else module
        )
        self.step, self.best, self.failures = 0, -math.inf, set()

    def _open_data(self):
        """Open the train and val entries, build the detector for their crops and add the
        pseudo-fake twins; prints the accounting; returns the twins' pixel hook (or None)."""
        data, synthesize = self.config.data, None
        train = [e.to_dict() for e in data.train]
        self.train_samples, train_accounts = open_entries(
            train, data.frames_per_video, data.frame_sampling
        )
        recorded = recorded_preset(self.train_samples)
        self.detector = build_detector(self.config.model, self.device, recorded)
        if data.pseudo_fakes is not None:
            crop = self.detector.config.face_pipeline.crop
            self.train_samples, synthesize, record = add_pseudo_fakes(
                self.train_samples, data.pseudo_fakes, crop, self.config.seed
            )
            self.detector.config.pseudo_fakes = record
        val = [e.to_dict() for e in data.val]
        self.val_samples, val_accounts = open_entries(
            val, data.val_frames_per_video, data.frame_sampling
        )
        self.accounting = {"train": train_accounts, "val": val_accounts}
        if self.info.is_main:  # what the run rests on, before the first step
            for part, accounts in self.accounting.items():
                for accounting in accounts:
                    print(f"{part} {accounting.line()}")
        return synthesize

    # -- state ---------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best": self.best,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def _resume(self) -> None:
        last = self.out / "checkpoints" / "last"
        if not (self.config.run.resume and resumable(last)):
            return
        previous = self._previous_config()
        for section in ("model", "data", "seed"):
            if previous is None or getattr(previous, section) != getattr(self.config, section):
                raise ConfigError(
                    f"{self.out}: cannot resume, {section!r} differs from the run's config.yaml "
                    "(use another run.out or run.resume=false)"
                )
        if self.info.is_main:  # picks the newest checkpoint that loads and makes it "last"
            state = restore_checkpoint(self.detector, last)
        distributed.barrier(self.info)
        if not self.info.is_main:
            state = load_checkpoint(self.detector, last)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.best = int(state["step"]), float(state["best"])

    def _previous_config(self) -> TrainConfig | None:
        """The config the run folder's ``config.yaml`` records (None: absent or unreadable)."""
        path = self.out / "config.yaml"
        if not path.is_file():
            return None
        try:
            return TrainConfig.from_dict(resolve_config(load_yaml(path.read_text()) or {}))
        except (DfdetectError, yaml.YAMLError):
            return None

    def _save(self, name: str, info: dict | None = None) -> None:
        if self.info.is_main:
            state = self._state() if name == "last" else None
            save_checkpoint(self.detector, self.out / "checkpoints" / name, state, info)

    # -- loop ----------------------------------------------------------------------------------

    def _loader(self, epoch: int, skip: int) -> DataLoader:
        self.sampler.set_epoch(epoch, skip=skip)
        self.dataset.set_epoch(epoch)
        return DataLoader(
            self.dataset,
            batch_size=self.micro,
            sampler=self.sampler,
            drop_last=True,
            num_workers=self.config.data.num_workers,
            collate_fn=Collate(self.train_samples),
        )

    def _micro_step(self, batch: Batch, sync: bool) -> dict[str, float]:
        if not len(batch):
            raise DatasetError(f"every crop of a batch failed to load: {batch.failures[:3]}")
        self.failures.update(batch.failures)
        generator = torch.Generator(self.device).manual_seed(
            self.config.seed * 1_000_003 + self.step * 1009 + self.info.rank
        )
        pixels = self.detector.preprocess(batch.images)
        labels = batch.labels.to(self.device)
        context = (
            contextlib.nullcontext() if sync or not self.info.enabled else self.model.no_sync()
        )
        with context:
            with autocast_for(self.device, self.config.run.precision):
                logits, features, all_labels = self.model(pixels, labels, generator)
            terms = self.criterion(logits, features, all_labels)
            (terms.total / self.config.optim.accumulate).backward()
        return {
            "loss": terms.total.item(),
            "ce": terms.cross_entropy.item(),
            "alignment": terms.alignment.item(),
            "uniformity": terms.uniformity.item(),
        }

    def fit(self) -> Path:
        """Train to the configured number of steps; returns the run folder."""
        self._resume()
        resumed = self.step
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(dump_config(self.config.to_dict()))
            logger = RunLogger(self.out, resumed if resumed else None)
        accumulate, run = self.config.optim.accumulate, self.config.run
        self.detector.train()
        window: list[dict[str, float]] = []
        started, images = time.perf_counter(), 0
        with progress_bar(enabled=run.progress and self.info.is_main) as bar:
            task = bar.add_task(
                "training", total=self.total_steps, completed=self.step, unit="steps"
            )
            while self.step < self.total_steps:
                epoch, done = divmod(self.step, self.steps_per_epoch)
                micro_batches = iter(self._loader(epoch, done * self.micro * accumulate))
                for _ in range(self.steps_per_epoch - done):
                    parts = [
                        self._micro_step(next(micro_batches), k == accumulate - 1)
                        for k in range(accumulate)
                    ]
                    images += self.micro * accumulate * self.info.world_size
                    if self.config.optim.grad_clip:
                        nn.utils.clip_grad_norm_(
                            self.detector.parameters(), self.config.optim.grad_clip
                        )
                    lr = self.scheduler.get_last_lr()[0]
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.scheduler.step()
                    self.step += 1
                    bar.advance(task)
                    window.append({k: sum(p[k] for p in parts) / accumulate for k in parts[0]})
                    if self.info.is_main and (
                        self.step % run.log_every == 0 or self.step == self.total_steps
                    ):
                        elapsed = time.perf_counter() - started
                        row = {k: sum(w[k] for w in window) / len(window) for k in window[0]}
                        logger.log_train(
                            {
                                "step": self.step,
                                "epoch": epoch,
                                "lr": lr,
                                **row,
                                "images_per_s": images / elapsed,
                            }
                        )
                        window, started, images = [], time.perf_counter(), 0
                    end_of_epoch = self.step % self.steps_per_epoch == 0
                    finished = self.step == self.total_steps
                    every = run.val_every_steps
                    if end_of_epoch or finished or (every and self.step % every == 0):
                        self._validate(epoch, logger if self.info.is_main else None)
                    if end_of_epoch or finished or self.step % run.checkpoint_every == 0:
                        self._save("last")
                        distributed.barrier(self.info)
                    if finished:
                        break
        trained = [p for p in self.detector.parameters() if p.requires_grad]
        divergence = distributed.max_divergence(self.info, trained)
        if self.info.is_main:
            logger.close()
            self._write_failures()
            summary = {
                "steps": self.step,
                "resumed_from": resumed,
                "world_size": self.info.world_size,
                "best_video_map": self.best if math.isfinite(self.best) else None,
                "rank_divergence": divergence,
                "unreadable_crops": len(self.failures),
                "data": {k: [a.to_dict() for a in v] for k, v in self.accounting.items()},
            }
            if self.failures:
                print(f"{len(self.failures)} unreadable training crops (see failures.csv)")
            (self.out / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
        distributed.barrier(self.info)
        return self.out

    def _validate(self, epoch: int, logger: RunLogger | None) -> None:
        if logger is not None and self.val_samples:
            self.detector.eval()
            mean_ap, rows = validate(
                self.detector,
                self.val_samples,
                batch_size=self.config.run.val_batch_size,
                progress=False,
            )
            self.detector.train()
            for row in rows:
                logger.log_val({"step": self.step, "epoch": epoch, **row})
            if mean_ap > self.best:
                self.best = mean_ap
                info = {"step": self.step, "epoch": epoch, "video_map": mean_ap, "datasets": rows}
                self._save("best", info)
        distributed.barrier(self.info)

    def _write_failures(self) -> None:
        if self.failures:
            lines = ["path,reason", *(f'"{p}",{r}' for p, r in sorted(self.failures))]
            (self.out / "failures.csv").write_text("\n".join(lines) + "\n")
