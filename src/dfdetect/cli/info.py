"""``dfdetect info MODEL``: the model card of any checkpoint dfdetect loads.

Exit codes: 0 printed, 3 the model could not be loaded.
"""

from __future__ import annotations

import argparse
import json
import warnings

EXIT_OK, EXIT_MODEL = 0, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect info``."""
    parser.add_argument("model", help="Hub id, local folder or file, or 'tiny-random'")
    parser.add_argument("--json", action="store_true", help="print the card as JSON")


def run(args: argparse.Namespace) -> int:
    """Load the model on the CPU and print its card."""
    from dfdetect.cli.exits import fail
    from dfdetect.errors import DfdetectError
    from dfdetect.model.card import format_card, model_card
    from dfdetect.model.loading import load_predictor

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tiny-random.*")
            detector = load_predictor(args.model, runtime=None, device="cpu").detector
    except DfdetectError as exc:
        fail("info", exc)  # one line, names escaped
        return EXIT_MODEL
    card = model_card(detector, args.model)
    print(json.dumps(card, indent=2, allow_nan=False) if args.json else format_card(card))
    return EXIT_OK
