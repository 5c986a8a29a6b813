"""The face pipeline a model was trained with: detector, crop geometry, frames per video and how
frame scores become a video score. It travels in the model's config so every entry point cuts
faces the way the model expects (numpy only: the model config imports it)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from dfdetect.errors import ModelNotFoundError
from dfdetect.faces.face import FaceDetector
from dfdetect.faces.presets import CropPreset, get_preset
from dfdetect.faces.sampling import EXTRACT_SAMPLING, SCAN_SAMPLING, FaceSampling
from dfdetect.media.sampling import SAMPLING_MODES

AGGREGATIONS = ("mean", "median")
DETECTOR_NAMES = ("mtcnn", "scrfd")  # dfdetect.faces.detectors.DETECTORS


@dataclass(frozen=True)
class FacePipeline:
    """How faces were cut for a model.

    ``detector`` names the face detector (``threshold`` None: its default; ``nms`` only for
    detectors that take it); ``crop`` is the alignment preset; ``frames`` frames are taken per
    video in ``sampling`` order; a video's score is the ``aggregation`` of its frame scores.
    """

    detector: str = "mtcnn"
    threshold: float | None = None
    nms: float | None = None
    crop: CropPreset = field(default_factory=lambda: get_preset("gend"))
    frames: int = SCAN_SAMPLING.frames
    sampling: str = SCAN_SAMPLING.sampling
    aggregation: str = "mean"

    def __post_init__(self) -> None:
        if self.detector not in DETECTOR_NAMES:
            raise ValueError(f"face detector {self.detector!r} is not one of {DETECTOR_NAMES}")
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"frame sampling {self.sampling!r} is not one of {SAMPLING_MODES}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation {self.aggregation!r} is not one of {AGGREGATIONS}")
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")

    def with_detector(self, detector: str) -> FacePipeline:
        """The same pipeline with another detector at that detector's default thresholds."""
        if detector == self.detector:
            return self
        return replace(self, detector=detector, threshold=None, nms=None)

    def detector_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`dfdetect.faces.create_face_detector` (not the name)."""
        options: dict[str, Any] = {}
        if self.threshold is not None:
            options["threshold"] = self.threshold
        if self.nms is not None:
            options["nms_threshold"] = self.nms
        return options

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (model configs, scan results, reports)."""
        return {
            "detector": self.detector,
            "threshold": self.threshold,
            "nms": self.nms,
            "crop": self.crop.to_dict(),
            "frames": self.frames,
            "sampling": self.sampling,
            "aggregation": self.aggregation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FacePipeline:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError."""
        data = dict(data)
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"face pipeline: unknown keys {unknown}")
        if "crop" in data:
            data["crop"] = CropPreset.from_dict(data["crop"])
        return cls(**data)


# What the authors' released GenD models were trained and are run with: SCRFD
# det_10g (its app's score threshold 0.5, NMS 0.4), the GenD template with margin 1.3 at native
# size, 32 frames in max-spread order from the middle frame, video score = mean.
GEND_PIPELINE = FacePipeline(
    detector="scrfd",
    threshold=0.5,
    nms=0.4,
    crop=get_preset("gend", size=None, size_rule="gend"),
    frames=EXTRACT_SAMPLING.frames,
    sampling=EXTRACT_SAMPLING.sampling,
    aggregation="mean",
)

# The first paper's released models (DeepfakeBench preprocessing: ArcFace template, margin 1.3,
# 256 px, 32 evenly spaced frames). Its dlib detector is not available offline: MTCNN gives the
# same five landmarks.
FIRST_PAPER_PIPELINE = FacePipeline(crop=get_preset("arcface"))

SCRFD_MODEL_ENV = "DFDETECT_SCRFD_MODEL"
SCRFD_FALLBACK = (
    "this model's faces were cut with SCRFD (InsightFace det_10g.onnx), but no SCRFD weights "
    f"were given (--scrfd-model PATH or ${SCRFD_MODEL_ENV}): using MTCNN instead, which finds "
    "slightly different landmarks; every result records the pipeline used"
)
_warned: set[str] = set()


def choose_detector(
    pipeline: FacePipeline, *, detector: str | None = None, scrfd_model: str | None = None
) -> tuple[FacePipeline, dict[str, Any]]:
    """The pipeline to use (``pipeline`` with ``detector`` when given) and the options to create
    its face detector with.

    SCRFD needs weights the user provides (``scrfd_model``, else ``$DFDETECT_SCRFD_MODEL``: a
    path or ``REPO_ID:FILENAME`` on the Hub). When a model's recorded pipeline asks for SCRFD and
    none are given, MTCNN stands in and a warning says so once per process; when the user asked
    for SCRFD explicitly, its absence is an error (ModelNotFoundError)."""
    used = pipeline.with_detector(detector or pipeline.detector)
    options = used.detector_options()
    if used.detector != "scrfd":
        return used, options
    weights = scrfd_model or os.environ.get(SCRFD_MODEL_ENV)
    if weights:
        return used, {**options, "model": weights}
    if detector == "scrfd":
        raise ModelNotFoundError(
            "the scrfd face detector needs its ONNX weights: pass --scrfd-model PATH (or "
            f"REPO_ID:FILENAME on the Hub), or set ${SCRFD_MODEL_ENV}"
        )
    if SCRFD_FALLBACK not in _warned:
        _warned.add(SCRFD_FALLBACK)
        warnings.warn(SCRFD_FALLBACK, UserWarning, stacklevel=3)
    return used.with_detector("mtcnn"), {}


def build_face_detector(
    pipeline: FacePipeline,
    *,
    device: Any = None,
    min_face_size: int = FaceSampling.min_face_size,
    detector: str | None = None,
    scrfd_model: str | None = None,
    **extra: Any,
) -> tuple[FaceDetector, FacePipeline]:
    """The face detector for ``pipeline`` (see :func:`choose_detector`) and the pipeline
    actually used; ``extra`` goes to :func:`dfdetect.faces.create_face_detector`."""
    from dfdetect.faces.detectors import create_face_detector

    used, options = choose_detector(pipeline, detector=detector, scrfd_model=scrfd_model)
    face_detector = create_face_detector(
        used.detector, device=device, min_face_size=min_face_size, **options, **extra
    )
    return face_detector, used
