"""Export a detector to ONNX (optionally dynamically quantised to int8) as a folder that
``Detector.from_pretrained`` and every ``--model`` run on ONNX Runtime.

The folder holds ``model.onnx`` (input ``pixel_values`` (B, 3, S, S) float32, output ``logits``
(B, 2)) and ``config.json``: the detector's config (preprocessing, face pipeline, threshold,
temperature travel with it) plus ``onnx``: the opset, whether it is int8, which ONNX Runtime
fusions the graph got, and the digest of the weights it was exported from.

Graphs of families with known fusions (CLIP) are exported with plain (eager) attention and then
fused by ``onnxruntime.transformers`` into Attention, SkipLayerNormalization and QuickGelu
kernels; a fused graph whose logits differ from the plain one's on probe images by more than
:data:`FUSION_TOLERANCE` is dropped for the plain graph.

An export is staged beside its destination and renamed into place only once checked (see
:mod:`dfdetect.runtime.export`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dfdetect.errors import CheckpointError
from dfdetect.model.config import CONFIG_NAME
from dfdetect.model.families import get_family
from dfdetect.model.onnx_detector import (
    INPUT_NAME,
    ONNX_NAME,
    OUTPUT_NAME,
    OnnxDetector,
)
from dfdetect.runtime.export import OPSET, ExportError, staged, torch_to_onnx
from dfdetect.runtime.sessions import ort_session

PROBE_SEED = 0
FUSION_TOLERANCE = 1e-5  # max |logit| difference between the fused and the plain graph


class _Logits(torch.nn.Module):
    def __init__(self, detector):
        super().__init__()
        self.detector = detector

    def forward(self, pixel_values):
        return self.detector(pixel_values)


@contextlib.contextmanager
def _eager_attention(module: torch.nn.Module) -> Iterator[None]:
    """transformers towers inside ``module`` use plain matmul-softmax attention (the pattern
    ONNX Runtime fuses) instead of SDPA, for the duration."""
    configs = [
        m.config
        for m in module.modules()
        if hasattr(getattr(m, "config", None), "_attn_implementation")
    ]
    before = [c._attn_implementation for c in configs]
    for config in configs:
        config._attn_implementation = "eager"
    try:
        yield
    finally:
        for config, value in zip(configs, before, strict=True):
            config._attn_implementation = value


def _fuse(detector, path: Path) -> str:
    """Fuse the graph at ``path`` in place with its family's ONNX Runtime fusions, when they
    keep its logits on probe images; returns the fusion used ("" for none)."""
    fusion = get_family(detector.backbone.family).onnx_fusion
    config = getattr(detector.backbone.model, "config", None)
    if not fusion or config is None:
        return ""
    fused = path.with_suffix(".fused.onnx")
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        heads, width = config.num_attention_heads, config.hidden_size
        optimized = optimize_model(
            str(path), fusion, num_heads=heads, hidden_size=width, opt_level=0
        )
        optimized.save_model_to_file(str(fused))
    except Exception:  # a fusion pass that fails leaves the plain graph, which works
        fused.unlink(missing_ok=True)
        return ""
    probe = {INPUT_NAME: probe_pixels(detector.config).numpy()}
    plain, candidate = (ort_session(p).run([OUTPUT_NAME], probe)[0] for p in (path, fused))
    if not np.abs(plain - candidate).max() <= FUSION_TOLERANCE:
        fused.unlink()
        return ""
    fused.replace(path)
    return fusion


def _export_fp32(detector, path: Path) -> str:
    """Export ``detector``'s logits to ``path``; returns the fusion the graph got."""
    size = detector.config.preprocess.crop_size
    example = torch.zeros(2, 3, size, size)
    module = _Logits(detector.to("cpu", torch.float32)).eval()
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    with _eager_attention(module):
        torch_to_onnx(
            module, example, path, inputs=[INPUT_NAME], outputs=[OUTPUT_NAME], dynamic_axes=axes
        )
    return _fuse(detector, path)


def _quantize(fp32: Path, int8: Path) -> None:
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process is logged on the root logger
    try:
        quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=QuantType.QInt8,
            # fused contrib ops (Attention, QuickGelu) defeat shape inference of their outputs
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
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
    detector,
    out: str | os.PathLike,
    *,
    int8: bool = False,
    source_digest: str = "",
    check: Callable[[OnnxDetector, dict[str, float]], None] | None = None,
) -> tuple[OnnxDetector, dict[str, float]]:
    """Write ``detector`` as an ONNX folder at ``out``; returns the exported detector and its
    drift against ``detector`` on probe images.

    The folder appears only once complete and checked: ``check`` (when given) gets the staged
    export and its drift first, and whatever it raises (a refusal, ``KeyboardInterrupt``)
    propagates with nothing written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: exists and is not empty")
    with staged(out) as work:
        fp32 = work / ("fp32.onnx" if int8 else ONNX_NAME)
        try:
            fusion = _export_fp32(detector, fp32)
            if int8:
                _quantize(fp32, work / ONNX_NAME)
                fp32.unlink()
        except (RuntimeError, ValueError, OSError, CheckpointError) as err:
            raise ExportError(f"cannot export {detector.config.backbone} to ONNX: {err}") from err
        onnx = {
            "opset": OPSET,
            "int8": int8,
            "fusion": fusion,
            "file": ONNX_NAME,
            "source_digest": source_digest,
        }
        config = replace(detector.config, onnx=onnx)
        (work / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        exported = OnnxDetector(config, work / ONNX_NAME)
        report = drift(detector, exported, probe_pixels(config))
        if check is not None:
            check(exported, report)
    return OnnxDetector(config, out / ONNX_NAME), report
