"""``python -m dfdetect.train --config FILE [key=value ...]`` (also under torchrun)."""

from __future__ import annotations

import argparse
import sys

from dfdetect.train.command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse the same options as ``dfdetect train`` and run."""
    parser = argparse.ArgumentParser(prog="python -m dfdetect.train", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
