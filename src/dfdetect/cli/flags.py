"""Flags default to None and only override the settings' own defaults: the one way every
command tells a given flag from one left out."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any


def given(args: argparse.Namespace, flags: Mapping[str, str] | Iterable[str]) -> dict[str, Any]:
    """Keyword arguments from the flags given on the command line (those not None); ``flags``
    maps an ``args`` attribute to the setting it sets, or lists names that are both."""
    pairs = flags.items() if isinstance(flags, Mapping) else ((name, name) for name in flags)
    return {field: getattr(args, flag) for flag, field in pairs if getattr(args, flag) is not None}
