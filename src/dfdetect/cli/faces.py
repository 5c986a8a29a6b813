"""Options shared by the commands that score faces: the face pipeline (scan, serve) and the
runtime (scan, serve, evaluate)."""

from __future__ import annotations

import argparse

from dfdetect.faces.pipeline import DETECTOR_NAMES, SCRFD_MODEL_ENV


def add_face_arguments(parser: argparse.ArgumentParser) -> None:
    """``--face-detector`` and ``--scrfd-model``."""
    parser.add_argument(
        "--face-detector",
        choices=DETECTOR_NAMES,
        default=None,
        help="face detector (default: the one the model's faces were cut with, e.g. scrfd for "
        "GenD models; mtcnn stands in, with a warning, when no SCRFD weights are given)",
    )
    parser.add_argument(
        "--scrfd-model",
        default=None,
        metavar="PATH|REPO:FILE",
        help=f"InsightFace SCRFD ONNX weights, e.g. det_10g.onnx (default: ${SCRFD_MODEL_ENV}); "
        "non-commercial research licence",
    )


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    """``--runtime auto|torch|onnx``."""
    from dfdetect.runtime import RUNTIMES

    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="engine that scores faces: auto (ONNX Runtime on a CPU, exported once and cached; "
        "PyTorch on a GPU), torch or onnx (default: auto)",
    )
