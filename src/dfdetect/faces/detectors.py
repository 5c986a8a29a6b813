"""Face-detector backends chosen by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dfdetect.faces.face import DEFAULT_MAX_SIDE, FaceDetector
from dfdetect.faces.sampling import FaceSampling

if TYPE_CHECKING:
    import torch


def _mtcnn(**options: Any) -> FaceDetector:
    from dfdetect.faces.mtcnn import MTCNNDetector  # torch is imported only when used

    return MTCNNDetector(**options)


def _scrfd(**options: Any) -> FaceDetector:
    from dfdetect.faces.scrfd import SCRFDDetector  # onnxruntime is imported only when used

    return SCRFDDetector(**options)


# name -> (factory, one-line description). Only backends giving five landmarks belong here:
# alignment needs eyes, nose and mouth corners.
DETECTORS: dict[str, tuple[Callable[..., FaceDetector], str]] = {
    "mtcnn": (_mtcnn, "MTCNN cascade, shipped facenet-pytorch 2.6.0 weights, 5 landmarks"),
    "scrfd": (
        _scrfd,
        "InsightFace SCRFD ONNX graph (e.g. det_10g.onnx, as GenD), 5 keypoints; options "
        "model, filename, nms_threshold, input_size; weights non-commercial, never bundled",
    ),
}


def create_face_detector(
    name: str = "mtcnn",
    *,
    device: str | torch.device | None = None,
    min_face_size: int = FaceSampling.min_face_size,
    threshold: float | None = None,
    max_side: int | None = DEFAULT_MAX_SIDE,
    **options: Any,
) -> FaceDetector:
    """A face detector by backend name; ``threshold`` None keeps the backend's default;
    ``options`` go to the backend (``scrfd``: ``model``, ``filename``, ``nms_threshold``,
    ``input_size``; see :class:`dfdetect.faces.scrfd.SCRFDDetector`).

    Images whose longer side exceeds ``max_side`` are detected on a copy downscaled to it, the
    results mapped back to the image's pixels; None detects at full size (see
    :class:`dfdetect.faces.mtcnn.MTCNNDetector` for what that does to the smallest faces).
    Unknown names raise KeyError listing the known ones."""
    try:
        factory, _ = DETECTORS[name]
    except KeyError:
        raise KeyError(f"unknown face detector {name!r}; known: {sorted(DETECTORS)}") from None
    if threshold is not None:
        options["threshold"] = threshold
    return factory(device=device, min_face_size=min_face_size, max_side=max_side, **options)
