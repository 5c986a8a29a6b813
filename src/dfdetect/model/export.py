"""Export a detector to ONNX (optionally dynamically quantised to int8) as a folder that
``Detector.from_pretrained`` and every ``--model`` run on ONNX Runtime.

The folder holds ``model.onnx`` (input ``pixel_values`` (B, 3, S, S) float32, output ``logits``
(B, 2)) and ``config.json``: the detector's config (preprocessing, face pipeline, threshold,
temperature travel with it) plus ``onnx``: the opset, whether it is int8, and the digest of the
weights it was exported from.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dfdetect.errors import DfdetectError
from dfdetect.model.config import CONFIG_NAME
from dfdetect.model.onnx_detector import INPUT_NAME, ONNX_NAME, OUTPUT_NAME, OnnxDetector

OPSET = 17
PROBE_SEED = 0


class ExportError(DfdetectError):
    """A model could not be exported, or its export drifted too far from it."""


class _Logits(torch.nn.Module):
    def __init__(self, detector):
        super().__init__()
        self.detector = detector

    def forward(self, pixel_values):
        return self.detector(pixel_values)


def _export_fp32(detector, path: Path) -> None:
    size = detector.config.preprocess.crop_size
    example = torch.zeros(2, 3, size, size)
    module = _Logits(detector.to("cpu", torch.float32)).eval()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter about the legacy exporter
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
        )


def _quantize(fp32: Path, int8: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process is logged on the root logger
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def probe_pixels(config, n: int = 8) -> torch.Tensor:
    """``n`` smooth random images preprocessed for ``config`` (a fixed seed): inputs to measure
    how far an export drifts from the torch model."""
    from PIL import Image

    from dfdetect.model.preprocess import preprocess_faces

    rng = np.random.default_rng(PROBE_SEED)
    small = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    faces = [np.array(Image.fromarray(s).resize((256, 256), Image.BICUBIC)) for s in small]
    return preprocess_faces(faces, config.preprocess)


def drift(detector, exported: OnnxDetector, pixels: torch.Tensor) -> dict[str, float]:
    """Max |dP(fake)| and max relative logit error of ``exported`` against ``detector``."""
    with torch.no_grad():
        reference = detector(pixels.to(detector.device, detector.dtype)).float().cpu()
    logits = exported(pixels)
    dp = (detector.probabilities(reference) - exported.probabilities(logits)).abs().max()
    rel = ((logits - reference).norm(dim=1) / reference.norm(dim=1).clamp_min(1e-12)).max()
    return {"max_abs_dp": float(dp), "max_rel_logit_error": float(rel)}


def export_onnx(
    detector, out: str | os.PathLike, *, int8: bool = False, source_digest: str = ""
) -> tuple[OnnxDetector, dict[str, float]]:
    """Write ``detector`` as an ONNX folder at ``out`` (atomically: a failed export leaves
    nothing); returns the exported detector and its drift against ``detector`` on probe
    images."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    try:
        fp32 = work / ("fp32.onnx" if int8 else ONNX_NAME)
        try:
            _export_fp32(detector, fp32)
            if int8:
                _quantize(fp32, work / ONNX_NAME)
                fp32.unlink()
        except (RuntimeError, ValueError, OSError) as err:
            raise ExportError(f"cannot export {detector.config.backbone} to ONNX: {err}") from err
        onnx = {"opset": OPSET, "int8": int8, "file": ONNX_NAME, "source_digest": source_digest}
        config = replace(detector.config, onnx=onnx)
        (work / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        exported = OnnxDetector(config, work / ONNX_NAME)
        report = drift(detector, exported, probe_pixels(config))
        if out.exists():
            out.rmdir()
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return OnnxDetector(config, out / ONNX_NAME), report
