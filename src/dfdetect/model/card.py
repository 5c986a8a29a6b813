"""A model card: what a loaded detector is, where it came from and how it wants its faces."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import numpy as np

from dfdetect.model.backbones import spec_for
from dfdetect.model.families import get_family
from dfdetect.model.onnx_detector import OnnxDetector


def _onnx_parameters(path) -> int:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return sum(int(np.prod(t.dims)) for t in graph.initializer)


def model_card(detector, name: str) -> dict[str, Any]:
    """JSON-ready description of ``detector`` (loaded from ``name``; a Detector or an ONNX
    export, whose graph holds every weight and trains none)."""
    config = detector.config
    if isinstance(detector, OnnxDetector):
        family = get_family(spec_for(config.backbone).family)
        total, trained = _onnx_parameters(detector.path), 0
        source_format = "onnx-int8" if config.onnx.get("int8") else "onnx"
        renamed = 0
    else:
        family = get_family(detector.backbone.family)
        total = sum(p.numel() for p in detector.parameters())
        trained = sum(t.numel() for t in detector.trained_state_dict().values())
        source_format = config.source_format
        renamed = detector.renamed_keys
    return {
        "model": name,
        "format": source_format,
        "source": config.source or name,
        "backbone": {
            "name": config.backbone,
            "family": family.name,
            "library": family.library,
            "feature": family.feature,
            "feature_dim": config.feature_dim,
        },
        "head": {"l2_normalized_features": config.normalize_features, "classes": 2},
        "parameters": {
            "total": total,
            "trained": trained,
            "trained_percent": round(100.0 * trained / total, 4) if total else 0.0,
            "adapter": config.adapter,
        },
        "preprocess": config.preprocess.to_dict(),
        "face_pipeline": config.face_pipeline.to_dict(),
        "threshold": config.threshold,
        "temperature": config.temperature,
        "class_names": list(config.class_names),
        "dfdetect_version": config.dfdetect_version,
        # the transformers in use, and how many of the file's tensor names it holds differently
        "transformers_version": version("transformers"),  # a core dependency
        "renamed_keys": renamed,
    }


def format_card(card: dict[str, Any]) -> str:
    """The card as aligned ``key: value`` lines for a terminal."""
    b, p, pre, face = (
        card["backbone"],
        card["parameters"],
        card["preprocess"],
        card["face_pipeline"],
    )
    crop = face["crop"]
    size = crop["size"] if crop["size"] is not None else f"native ({crop['size_rule']} rule)"
    threshold = "default" if face["threshold"] is None else face["threshold"]
    lines = [
        ("model", card["model"]),
        ("format", f"{card['format']} ({card['source']})"),
        ("backbone", f"{b['name']} [{b['family']}, {b['library']}, {b['feature']}, "
                     f"{b['feature_dim']}-d]"),
        ("head", "L2-normalised features -> Linear(d, 2)"
         if card["head"]["l2_normalized_features"] else "Linear(d, 2) on raw features"),
        ("parameters", f"{p['total']:,} total, {p['trained']:,} trained "
                       f"({p['trained_percent']} %, {p['adapter']})"),
        ("preprocess", f"{pre['resize_mode']} {pre['resize']} {pre['interpolation']}, crop "
                       f"{pre['crop_size']}, mean {pre['mean']}, std {pre['std']}"),
        ("face detector", f"{face['detector']} (threshold {threshold}"
                          + (f", NMS {face['nms']})" if face["nms"] is not None else ")")),
        ("face crop", f"{crop['name']} template, margin {crop['margin']}, size {size}"),
        ("frames", f"{face['frames']} per video, {face['sampling']} order, video score = "
                   f"{face['aggregation']}"),
        ("threshold", card["threshold"]),
        ("temperature", card["temperature"]),
        ("classes", ", ".join(card["class_names"])),
        ("dfdetect", card["dfdetect_version"]),
        ("transformers", card["transformers_version"]),
        ("keys", f"converted from file names ({card['renamed_keys']} renamed)"
         if card["renamed_keys"] else "as in the file"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)
