"""``dfdetect train``: the options and the run live in :mod:`dfdetect.train.command`, which
``python -m dfdetect.train`` (and torchrun) uses too."""

from __future__ import annotations

from dfdetect.train.command import add_arguments, run

__all__ = ["add_arguments", "run"]
