"""The resolved training config as frozen dataclasses, built once from the validated mapping of
:func:`dfdetect.train.config.resolve_config` (defaults, preset or file, ``key=value`` overrides).

The mapping layer keeps the YAML keys users know; :meth:`TrainConfig.to_dict` gives the mapping
back for a run folder's ``config.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from dfdetect.data.augment import AugmentConfig
from dfdetect.data.specs import expand_root
from dfdetect.synth.training import PseudoFakeConfig

ENTRY_KEYS = ("dataset", "root", "split")


@dataclass(frozen=True)
class DatasetEntry:
    """One ``{dataset, root, split, <layout options>}`` item of ``data.train``/``data.val``;
    ``dataset`` None is the generic folder layout, ``split`` None the layout's default."""

    root: str
    dataset: str | None = None
    split: str | None = None
    options: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> DatasetEntry:
        """From a config entry mapping (its keys beyond dataset/root/split are layout options)."""
        options = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
        return cls(
            root=entry["root"],
            dataset=entry.get("dataset"),
            split=entry.get("split"),
            options=options or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry mapping, as :func:`dfdetect.data.specs.open_entries` reads it."""
        entry = {"dataset": self.dataset, "root": self.root, "split": self.split}
        return {k: v for k, v in entry.items() if v is not None} | dict(self.options or {})

    def expanded(self) -> DatasetEntry:
        """This entry with ``~`` and environment variables of its root expanded."""
        return replace(self, root=str(expand_root(self.root)))


@dataclass(frozen=True)
class ModelConfig:
    """``model``: what is trained (see :data:`dfdetect.train.config.DEFAULTS` for each key)."""

    backbone: str
    init: str | None
    adapter: str
    pretrained_backbone: bool
    face_crop: str | Mapping[str, Any]


@dataclass(frozen=True)
class DataConfig:
    """``data``: the datasets, how their frames are sampled and batched, and augmentation."""

    train: tuple[DatasetEntry, ...]
    val: tuple[DatasetEntry, ...]
    frames_per_video: int | None
    val_frames_per_video: int | None
    frame_sampling: str
    pair_fakes: bool
    balance: bool
    num_workers: int
    augment: AugmentConfig | None
    pseudo_fakes: PseudoFakeConfig | None


@dataclass(frozen=True)
class LossConfig:
    """``loss``: weights of cross-entropy, alignment and uniformity, and slerp augmentation."""

    ce: float
    alignment: float
    alignment_alpha: float
    uniformity: float
    uniformity_t: float
    slerp: bool


@dataclass(frozen=True)
class OptimConfig:
    """``optim``: AdamW, the cosine schedule and the global batch."""

    lr: float
    min_lr: float
    weight_decay: float
    betas: tuple[float, float]
    batch_size: int
    accumulate: int
    epochs: int
    max_steps: int | None
    warmup_steps: int
    restart_epochs: int | None
    grad_clip: float | None


@dataclass(frozen=True)
class RunConfig:
    """``run``: the run folder, device, precision, logging, validation and checkpoint cadence."""

    out: str
    device: str | None
    precision: str
    log_every: int
    val_every_steps: int | None
    checkpoint_every: int
    resume: bool
    val_batch_size: int
    progress: bool


@dataclass(frozen=True)
class TrainConfig:
    """A resolved training config; sections as in the YAML files."""

    seed: int
    model: ModelConfig
    data: DataConfig
    loss: LossConfig
    optim: OptimConfig
    run: RunConfig

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> TrainConfig:
        """From a resolved (merged and validated) config mapping."""
        data = dict(config["data"])
        for section in ("train", "val"):
            data[section] = tuple(DatasetEntry.from_dict(e) for e in data[section])
        data["augment"] = AugmentConfig.from_dict(data["augment"])
        data["pseudo_fakes"] = PseudoFakeConfig.from_dict(data["pseudo_fakes"])
        optim = dict(config["optim"], betas=tuple(config["optim"]["betas"]))
        return cls(
            seed=config["seed"],
            model=ModelConfig(**config["model"]),
            data=DataConfig(**data),
            loss=LossConfig(**config["loss"]),
            optim=OptimConfig(**optim),
            run=RunConfig(**config["run"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The config as a YAML-ready mapping, keys in definition order."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def with_expanded_roots(self) -> TrainConfig:
        """This config with every data entry's root expanded (what a run folder records)."""
        train = tuple(e.expanded() for e in self.data.train)
        val = tuple(e.expanded() for e in self.data.val)
        return replace(self, data=replace(self.data, train=train, val=val))


def _plain(value: Any) -> Any:
    """``value`` as YAML-ready plain data (sections and entries as mappings, tuples as lists)."""
    if isinstance(value, DatasetEntry | AugmentConfig | PseudoFakeConfig):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
