"""Training configuration: built-in defaults < preset or YAML file < ``key=value`` overrides.

Every key must exist in :data:`DEFAULTS` (typos are errors listing the known keys); the resolved
mapping is what a run folder's ``config.yaml`` holds, and what
:meth:`dfdetect.train.settings.TrainConfig.from_dict` builds the run's dataclasses from.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dfdetect.data.augment import AugmentConfig
from dfdetect.errors import DfdetectError
from dfdetect.faces.presets import PRESETS
from dfdetect.model.config import ADAPTERS
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
        "train": [],  # [{dataset: ff++, root: DIR, split: train, <layout options>}]
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


Rule = tuple[Callable[[Any], bool], str]  # (accepts the value, what is allowed)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(low: int, *, null: str = "") -> Rule:
    allowed = f"an integer >= {low}" + (f" or null ({null})" if null else "")
    return (lambda v: (null and v is None) or (_is_int(v) and v >= low)), allowed


def _number(*, positive: bool = False, null: str = "") -> Rule:
    allowed = ("a number > 0" if positive else "a number >= 0") + (
        f" or null ({null})" if null else ""
    )
    return (
        lambda v: (null and v is None) or (_is_number(v) and (v > 0 if positive else v >= 0))
    ), allowed


def _choice(*values: str) -> Rule:
    return (lambda v: isinstance(v, str) and v in values), " | ".join(values)


_FLAG: Rule = (lambda v: isinstance(v, bool), "true | false")
_TEXT: Rule = (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")
_BETAS: Rule = (
    lambda v: isinstance(v, list) and len(v) == 2 and all(_is_number(b) and b < 1 for b in v),
    "two numbers in [0, 1), e.g. [0.9, 0.999]",
)
_PAIR: Rule = (
    lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)),
    "two numbers [low, high]",
)

RULES: dict[str, Rule] = {  # every key of DEFAULTS outside FREE_FORM (a test checks it)
    "seed": _integer(0),
    "model.backbone": _TEXT,
    "model.init": ((lambda v: v is None or _TEXT[0](v)), "null or a checkpoint folder / Hub id"),
    "model.adapter": _choice(*ADAPTERS),
    "model.pretrained_backbone": _FLAG,
    "model.face_crop": (
        lambda v: isinstance(v, dict) or (isinstance(v, str) and (v == "auto" or v in PRESETS)),
        f"auto | {' | '.join(PRESETS)} | a crop-preset mapping",
    ),
    "data.frames_per_video": _integer(1, null="every frame"),
    "data.val_frames_per_video": _integer(1, null="every frame"),
    "data.frame_sampling": _choice("even", "max-spread"),
    "data.pair_fakes": _FLAG,
    "data.balance": _FLAG,
    "data.num_workers": _integer(0),
    "loss.ce": _number(),
    "loss.alignment": _number(),
    "loss.alignment_alpha": _number(positive=True),
    "loss.uniformity": _number(),
    "loss.uniformity_t": _number(positive=True),
    "loss.slerp": _FLAG,
    "optim.lr": _number(positive=True),
    "optim.min_lr": _number(),
    "optim.weight_decay": _number(),
    "optim.betas": _BETAS,
    "optim.batch_size": _integer(1),
    "optim.accumulate": _integer(1),
    "optim.epochs": _integer(1),
    "optim.max_steps": _integer(1, null="optim.epochs decide"),
    "optim.warmup_steps": _integer(0),
    "optim.restart_epochs": _integer(1, null="no restarts"),
    "optim.grad_clip": _number(positive=True, null="no clipping"),
    "run.out": _TEXT,
    "run.device": ((lambda v: v is None or _TEXT[0](v)), "null (automatic) or cpu, cuda, cuda:N"),
    "run.precision": _choice("auto", "bf16", "fp32"),
    "run.log_every": _integer(1),
    "run.val_every_steps": _integer(1, null="each epoch end only"),
    "run.checkpoint_every": _integer(1),
    "run.resume": _FLAG,
    "run.val_batch_size": _integer(1),
    "run.progress": _FLAG,
}


def _value(config: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        config = config[part]
    return config


def validate(config: dict[str, Any]) -> None:
    """Check every value of a merged config; the first bad one raises a one-line
    :class:`ConfigError` naming the key, the value and what is allowed."""
    for key, (accepts, allowed) in RULES.items():
        value = _value(config, key)
        if not accepts(value):
            raise ConfigError(f"{key}={value!r} is not allowed: expected {allowed}")
    o, d = config["optim"], config["data"]
    if o["min_lr"] > o["lr"]:
        raise ConfigError(
            f"optim.min_lr={o['min_lr']!r} is not allowed: above optim.lr={o['lr']!r}"
        )
    if o["batch_size"] % o["accumulate"]:
        raise ConfigError(f"optim.batch_size {o['batch_size']} is not divisible by accumulate")
    for section in ("train", "val"):
        entries = d[section]
        if not isinstance(entries, list) or (section == "train" and not entries):
            raise ConfigError(
                f"data.{section}={entries!r} is not allowed: expected a "
                f"{'non-empty ' if section == 'train' else ''}list of {{dataset, root, split}} "
                "entries"
            )
        for entry in entries:
            if not isinstance(entry, dict) or "root" not in entry:
                raise ConfigError(f"data.{section}: each entry needs a root (got {entry!r})")
    _check_augment(d["augment"])
    PseudoFakeConfig.from_dict(d["pseudo_fakes"])  # raises on bad keys/values


def _check_augment(value: Any) -> None:
    """``data.augment``: null or a mapping shaped like :class:`AugmentConfig`'s fields (ranges
    are the dataclass's own checks)."""
    defaults = AugmentConfig().to_dict()
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"data.augment={value!r} is not allowed: expected null or a mapping")
    for key, v in (value or {}).items():
        if key == "enabled":
            accepts, allowed = _FLAG
        elif key not in defaults:
            known = ", ".join(["enabled", *defaults])
            raise ConfigError(f"data.augment: unknown key {key!r} (known here: {known})")
        elif isinstance(defaults[key], list):
            accepts, allowed = _PAIR
        else:
            accepts, allowed = _number()
        if not accepts(v):
            raise ConfigError(f"data.augment.{key}={v!r} is not allowed: expected {allowed}")
    try:
        AugmentConfig.from_dict(value)
    except DfdetectError as exc:
        raise ConfigError(f"data.{exc}") from None


def dump_config(config: dict[str, Any]) -> str:
    """The config as YAML, keys in definition order."""
    return yaml.safe_dump(config, sort_keys=False)
