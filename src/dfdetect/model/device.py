"""Pick the device and dtype a detector runs on: CUDA bf16, Apple MPS fp32, CPU fp32."""

from __future__ import annotations

import torch

from dfdetect.errors import DeviceUnavailable

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a torch.device; None picks CUDA, then MPS, then CPU."""
    if device is not None and str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(device: str | None) -> None:
    """Raise :class:`DeviceUnavailable` unless ``device`` (None or ``auto``: chosen later) names
    a device this machine has: ``cpu``, ``cuda``/``cuda:N`` with a GPU N, ``mps`` on Apple."""
    if device is None or str(device) == "auto":
        return
    try:
        kind = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceUnavailable(
            f"device {device!r} is not a device name (cpu, cuda, cuda:N, mps)"
        ) from None
    if kind.type == "cpu":
        return
    backend = torch.backends.mps if kind.type == "mps" else getattr(torch, kind.type, None)
    available = getattr(backend, "is_available", None)
    if available is None or not available():
        name = {"cuda": "CUDA", "mps": "Apple MPS"}.get(kind.type, kind.type)
        raise DeviceUnavailable(f"device {device!r}: {name} is not available on this machine")
    if kind.type == "cuda" and kind.index is not None and kind.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise DeviceUnavailable(f"device {device!r}: this machine has {count} CUDA device(s)")


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``dtype`` as a torch.dtype; None picks bfloat16 on CUDA (when supported), else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is not None and dtype != "auto":
        try:
            return DTYPES[str(dtype).lower()]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}") from None
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32
