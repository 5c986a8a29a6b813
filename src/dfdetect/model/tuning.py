"""Which parameters train: LayerNorm tuning (the method), LoRA through peft, or a linear probe.

Each helper freezes explicitly, returns the names it left trainable and raises when it matched
nothing, so a wrong module can never silently train everything or nothing.
"""

from __future__ import annotations

from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.model.config import LoraOptions


class AdapterError(DfdetectError):
    """An adapter matched no parameters or cannot be applied."""


def layernorm_parameter_names(module: nn.Module) -> list[str]:
    """Names of every LayerNorm affine parameter (weight and bias) in ``module``."""
    names = []
    for module_name, sub in module.named_modules():
        if isinstance(sub, nn.LayerNorm):
            prefix = f"{module_name}." if module_name else ""
            names.extend(prefix + n for n, _ in sub.named_parameters(recurse=False))
    return names


def set_trainable(module: nn.Module, names: list[str] | set[str]) -> list[str]:
    """Freeze every parameter of ``module`` except ``names``; returns the trainable names."""
    wanted = set(names)
    params = dict(module.named_parameters())
    missing = sorted(wanted - set(params))
    if missing:
        raise AdapterError(f"no such parameters: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    for name, param in params.items():
        param.requires_grad_(name in wanted)
    return [name for name in params if name in wanted]


def apply_layernorm_tuning(module: nn.Module) -> list[str]:
    """Freeze ``module`` except its LayerNorm affine parameters; returns their names.

    Raises AdapterError when ``module`` holds no LayerNorm with affine parameters.
    """
    names = layernorm_parameter_names(module)
    if not names:
        raise AdapterError(f"{type(module).__name__} has no LayerNorm affine parameters to tune")
    return set_trainable(module, names)


def apply_lora(module: nn.Module, options: LoraOptions) -> list[str]:
    """Inject LoRA adapters (peft) into the Linear layers named by ``options.targets``, in place.

    Returns the names of the new LoRA parameters (the caller decides what else trains).
    """
    try:
        from peft import LoraConfig, inject_adapter_in_model
        from peft.tuners.lora import LoraLayer
    except ImportError as err:
        raise AdapterError(
            'LoRA adapters need peft: pip install "dfdetect[train]" (or pip install peft)'
        ) from err

    config = LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=list(options.targets),
    )
    try:
        inject_adapter_in_model(config, module)
    except ValueError as err:  # peft: "Target modules ... not found in the base model"
        raise AdapterError(f"LoRA targets {list(options.targets)} matched nothing: {err}") from err
    names = []
    for module_name, sub in module.named_modules():
        if isinstance(sub, LoraLayer):
            for part in ("lora_A", "lora_B"):
                names.extend(
                    f"{module_name}.{part}.{n}" for n, _ in getattr(sub, part).named_parameters()
                )
    if not names:
        raise AdapterError(f"LoRA targets {list(options.targets)} matched no layers")
    return names
