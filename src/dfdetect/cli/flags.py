"""Flags default to None and only override the settings' own defaults (one way for every
command to tell a given flag from one left out); argument types shared by the commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ENGINES = ("single", "ray")  # where scan and serve run: this process, or a Ray cluster


def given(args: argparse.Namespace, flags: Mapping[str, str] | Iterable[str]) -> dict[str, Any]:
    """Keyword arguments from the flags given on the command line (those not None); ``flags``
    maps an ``args`` attribute to the setting it sets, or lists names that are both."""
    pairs = flags.items() if isinstance(flags, Mapping) else ((name, name) for name in flags)
    return {field: getattr(args, flag) for flag, field in pairs if getattr(args, flag) is not None}


def add_inputs_and_out(parser: argparse.ArgumentParser, inputs_help: str) -> None:
    """The ``INPUT...`` positionals and the required ``--out`` folder of commands that turn
    files into files (extract, synth)."""
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help=inputs_help)
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def positive_int(text: str) -> int:
    """Argument type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def probability(text: str) -> float:
    """Argument type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {value}")
    return value
