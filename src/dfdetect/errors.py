"""Exceptions raised by dfdetect, each carrying what a user needs to act on it."""

from __future__ import annotations

from pathlib import Path


class DfdetectError(Exception):
    """Base class of every error dfdetect raises on purpose."""


class ModelNotFoundError(DfdetectError):
    """A model name or path could not be resolved to weights."""


class CheckpointError(DfdetectError):
    """A checkpoint is malformed: missing or unexpected keys, wrong shapes, bad config."""


class MediaError(DfdetectError):
    """A media file could not be used; ``reason`` is a short machine-readable code."""

    def __init__(self, path: str | Path, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        msg = f"{self.path}: {reason}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class Cancelled(DfdetectError):
    """Work stopped on request (a deleted job) before it finished."""


class DeviceUnavailable(DfdetectError):
    """The requested device is not a device name or is absent on this machine."""
