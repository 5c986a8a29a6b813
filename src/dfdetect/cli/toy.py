"""``dfdetect toy OUT FACE_DIR``: a small FF++-layout crop tree with learnable fakes, for smoke
tests, docs and CI (see :mod:`dfdetect.data.toy`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dfdetect.cli.exits import EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect toy``."""
    from dfdetect.data.toy import TOY_SIZE

    parser.add_argument("out", type=Path, help="folder to write OUT/FF++ into")
    parser.add_argument("faces", type=Path, help="a crop tree of real-looking face crops")
    parser.add_argument(
        "--size", type=int, default=None, help=f"crop side in pixels (default: {TOY_SIZE})"
    )


def run(args: argparse.Namespace) -> int:
    """Write the tree; 2 when FACE_DIR holds no image."""
    from dfdetect.cli.flags import given
    from dfdetect.data.toy import make_toy_dataset, video_folders

    videos = video_folders(args.faces)
    if not videos:
        print(f"dfdetect toy: error: no images under {args.faces}", file=sys.stderr)
        return EXIT_USAGE
    root = make_toy_dataset(videos, args.out, **given(args, ("size",)))
    print(f"wrote {root} ({3 * len(videos)} real + {3 * len(videos)} fake videos)")
    return EXIT_OK
