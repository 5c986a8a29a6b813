"""ONNX Runtime sessions, built one way for every graph dfdetect runs (detectors, MTCNN,
SCRFD)."""

from __future__ import annotations

from pathlib import Path

from dfdetect.errors import CheckpointError, ModelNotFoundError


def ort_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session for ``path`` (``threads`` None: all cores). Idle threads
    sleep instead of spinning: a spinning pool takes the cores from the work between calls
    (decoding, face detection, other requests) and from other processes. A file that is not a
    loadable graph (truncated, damaged) raises :class:`CheckpointError` naming it."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ModelNotFoundError(
            f'{path}: running ONNX models needs onnxruntime: pip install "dfdetect[onnx]"'
        ) from err
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's errors for bad files share no base class
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a loadable ONNX graph ({reason})") from err
