"""The ``dfdetect`` command: one subcommand per module (heavy imports stay inside ``run``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dfdetect.cli.exits import EXIT_CODES_HELP, guard_standard_streams
from dfdetect.version import __version__

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("dfdetect.cli.scan", "score the faces in images, videos and folders"),
    "extract": ("dfdetect.cli.extract", "detect, align and save face crops from raw media"),
    "prepare": ("dfdetect.cli.prepare", "extract a raw dataset (FF++, CDFv2, ...) into crops"),
    "toy": ("dfdetect.cli.toy", "write a small FF++-layout crop tree for smoke tests"),
    "train": ("dfdetect.cli.train", "train a detector from a YAML config"),
    "synth": ("dfdetect.cli.synth", "make pseudo-fakes (SBI, blends) from real face crops"),
    "evaluate": ("dfdetect.cli.evaluate", "cross-dataset evaluation with confidence intervals"),
    "calibrate": ("dfdetect.cli.calibrate", "fit the decision threshold on validation data"),
    "robustness": ("dfdetect.cli.robustness", "AUROC under perturbations (DeeperForensics-1.0)"),
    "serve": ("dfdetect.cli.serve", "run the HTTP service and web page"),
    "info": ("dfdetect.cli.info", "print a model's card: format, backbone, preprocessing, faces"),
    "export": ("dfdetect.cli.export", "export a model to ONNX (optionally int8) for ONNX Runtime"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. Only ``command``'s module is imported and its options added (all
    of them when None); ``dfdetect --help`` lists the commands from ``COMMANDS`` alone."""
    parser = argparse.ArgumentParser(
        prog="dfdetect",
        description="Tell whether the faces in images and videos are deepfakes.",
    )
    parser.add_argument("--version", action="version", version=f"dfdetect {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP)
        if command is None or name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    guard_standard_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), "")  # the first positional
    args = build_parser(command).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
