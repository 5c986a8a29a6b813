"""Training configuration: built-in defaults < preset or YAML file < ``key=value`` overrides.

Every key must exist in :data:`DEFAULTS` (typos are errors listing the known keys); the resolved
config is what a run folder's ``config.yaml`` holds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dfdetect.data.augment import AugmentConfig
from dfdetect.errors import DfdetectError
from dfdetect.synth.training import PseudoFakeConfig

PRESETS_PACKAGE = "dfdetect.train.presets"
# values not key-checked here (their own classes check them)
FREE_FORM = {("data", "train"), ("data", "val"), ("data", "augment"), ("data", "pseudo_fakes")}

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "model": {
        "backbone": "openai/clip-vit-large-patch14",  # registry name, Hub id or local folder
        "init": None,  # a trained detector (folder / Hub id) to start from instead
        "adapter": "layernorm",  # layernorm | lora | linear-probe
        "pretrained_backbone": True,  # False: random backbone weights (benchmarks, tests)
        "face_crop": "auto",  # auto: the preset recorded by dfdetect extract (else gend)
    },
    "data": {
        "train": [],  # [{dataset: ff++, root: DIR, split: train, <adapter options>}]
        "val": [],
        "frames_per_video": 32,
        "val_frames_per_video": 8,
        "frame_sampling": "even",  # even | max-spread (over the extracted frames)
        "pair_fakes": True,
        "balance": True,
        "num_workers": 4,
        "augment": AugmentConfig().to_dict(),  # or null / {enabled: false}
        "pseudo_fakes": None,  # {method: sbi, keep_fakes: false}: fakes blended from real crops
    },
    "loss": {
        "ce": 1.0,
        "alignment": 0.1,
        "alignment_alpha": 2.0,
        "uniformity": 0.5,
        "uniformity_t": 2.0,
        "slerp": False,  # latent slerp augmentation between same-class features
    },
    "optim": {
        "lr": 8.0e-5,
        "min_lr": 5.0e-5,
        "weight_decay": 0.0,  # applied to >= 2-D parameters only
        "betas": [0.9, 0.999],
        "batch_size": 128,  # global: per optimizer step, over all processes and accumulation
        "accumulate": 1,
        "epochs": 10,
        "max_steps": None,  # stop after this many optimizer steps (None: epochs decide)
        "warmup_steps": 0,
        "restart_epochs": None,  # cosine restarts every N epochs (GenD: 10)
        "grad_clip": None,
    },
    "run": {
        "out": "runs/train",
        "device": None,  # None: cuda:LOCAL_RANK when available, else cpu
        "precision": "auto",  # auto (bf16 autocast on CUDA, fp32 on CPU) | bf16 | fp32
        "log_every": 10,
        "val_every_steps": None,  # also validate every N steps (always at each epoch end)
        "checkpoint_every": 200,  # steps between "last" checkpoints (and at each epoch end)
        "resume": True,  # continue from <out>/checkpoints/last when it exists
        "val_batch_size": 64,
        "progress": True,
    },
}


class ConfigError(DfdetectError):
    """A training config file, preset or override is invalid."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-4`` (no dot) as a float, as people write learning rates."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


def load_yaml(text: str):
    """YAML text as Python values (safe; ``1e-4`` is a float)."""
    return yaml.load(text, Loader=_Loader)


def preset_names() -> list[str]:
    """Names of the YAML presets shipped in the package."""
    files = resources.files(PRESETS_PACKAGE).iterdir()
    return sorted(p.name.removesuffix(".yaml") for p in files if p.name.endswith(".yaml"))


def read_yaml(source: str | Path) -> dict[str, Any]:
    """A preset (by name) or a YAML file as a mapping."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        text, where = path.read_text(), str(path)
    elif str(source) in preset_names():
        text = resources.files(PRESETS_PACKAGE).joinpath(f"{source}.yaml").read_text()
        where = f"preset {source}"
    else:
        raise ConfigError(
            f"{source}: neither a YAML file nor a preset ({', '.join(preset_names())})"
        )
    try:
        data = load_yaml(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    return data


def _merge(base: dict, update: dict, path: tuple[str, ...], where: str) -> None:
    for key, value in update.items():
        here = (*path, key)
        if key not in base:
            dotted = ".".join(here)
            known = ", ".join(sorted(base))
            raise ConfigError(f"{where}: unknown key {dotted!r} (known here: {known})")
        if here in FREE_FORM or not isinstance(base[key], dict) or value is None:
            base[key] = value
        elif not isinstance(value, dict):
            raise ConfigError(f"{where}: {'.'.join(here)} must be a mapping")
        else:
            _merge(base[key], value, here, where)


def parse_override(text: str) -> dict[str, Any]:
    """``a.b=value`` (value parsed as YAML) as the nested mapping ``{a: {b: value}}``."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not key=value (e.g. optim.lr=1e-4)")
    try:
        value = load_yaml(raw) if raw else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from exc
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def resolve_config(
    source: str | Path | dict | None = None, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Defaults, then the preset/file/mapping ``source``, then ``overrides``; validated."""
    config = copy.deepcopy(DEFAULTS)
    if source is not None:
        data = source if isinstance(source, dict) else read_yaml(source)
        _merge(
            config,
            copy.deepcopy(data),
            (),
            str(source) if not isinstance(source, dict) else "config",
        )
    for text in overrides:
        _merge(config, parse_override(text), (), f"override {text!r}")
    validate(config)
    return config


def validate(config: dict[str, Any]) -> None:
    """Checks that need more than the key names."""
    o, d = config["optim"], config["data"]
    for name in ("batch_size", "accumulate", "epochs"):
        if not isinstance(o[name], int) or o[name] < 1:
            raise ConfigError(f"optim.{name} must be a positive integer, got {o[name]!r}")
    for name in ("lr", "min_lr", "weight_decay"):
        if isinstance(o[name], bool) or not isinstance(o[name], int | float) or o[name] < 0:
            raise ConfigError(f"optim.{name} must be a number >= 0, got {o[name]!r}")
    if o["batch_size"] % o["accumulate"]:
        raise ConfigError(f"optim.batch_size {o['batch_size']} is not divisible by accumulate")
    if not d["train"]:
        raise ConfigError("data.train is empty: list at least one {dataset, root} entry")
    for section in ("train", "val"):
        for entry in d[section]:
            if not isinstance(entry, dict) or "root" not in entry:
                raise ConfigError(f"data.{section}: each entry needs a root (got {entry!r})")
    AugmentConfig.from_dict(d["augment"])  # raises on bad keys/values
    PseudoFakeConfig.from_dict(d["pseudo_fakes"])
    if config["run"]["precision"] not in ("auto", "bf16", "fp32"):
        raise ConfigError(
            f"run.precision must be auto, bf16 or fp32, got {config['run']['precision']!r}"
        )


def dump_config(config: dict[str, Any]) -> str:
    """The config as YAML, keys in definition order."""
    return yaml.safe_dump(config, sort_keys=False)
