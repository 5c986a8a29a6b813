"""What a scan reports: per face, per frame, per person and per file, JSON-ready."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"
STATUS_ERROR = "error"
NOT_FOUND = "not_found"  # the reason of an input that named no file
# bumped when results gain or change fields: results stored by earlier versions are rescanned
RESULT_VERSION = 2


def label_for(prob: float, threshold: float) -> str:
    """``"fake"`` when ``prob >= threshold``, else ``"real"``."""
    return "fake" if prob >= threshold else "real"


@dataclass
class FaceResult:
    """One detected face in one frame, with its fake probability and person id."""

    frame_index: int
    time_s: float | None
    box: list[float]
    score: float
    prob: float
    label: str
    person: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame_index": self.frame_index,
            "time_s": self.time_s,
            "box": [round(v, 2) for v in self.box],
            "score": round(self.score, 4),
            "prob": self.prob,
            "label": self.label,
            "person": self.person,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaceResult:
        return cls(**d)


@dataclass
class FrameResult:
    """One sampled frame: how many faces were scored, the highest fake probability among them,
    and how many faces over ``--max-faces`` were left unscored."""

    index: int
    time_s: float | None
    n_faces: int
    prob: float | None
    faces_skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time_s": self.time_s,
            "n_faces": self.n_faces,
            "prob": self.prob,
            "faces_skipped": self.faces_skipped,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameResult:
        return cls(**d)


@dataclass
class PersonResult:
    """A face tracked across frames: mean fake probability over its frames, and a label."""

    id: int
    prob: float
    label: str
    n_faces: int
    max_prob: float
    first_time_s: float | None
    last_time_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PersonResult:
        return cls(**d)


@dataclass
class Visuals:
    """Images kept for reports (not part of :meth:`FileResult.to_dict`): a thumbnail with the
    faces drawn on it and, per person, a heatmap overlay on the frame and on the crop."""

    thumbnail: np.ndarray
    heatmaps: dict[int, np.ndarray] = field(default_factory=dict)
    crops: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class FileResult:
    """The verdict for one image or video.

    ``status`` is ``"ok"`` (scored), ``"no_face"`` (readable, no face found) or ``"error"``
    (``error`` holds ``{"reason", "detail"}`` with a :class:`~dfdetect.errors.MediaError`
    reason, or ``not_found`` for an input that named no file). ``prob`` is the maximum over
    persons of their mean probability, so a file is fake when any person is. ``warnings``
    hold non-fatal problems (e.g. frames that did not decode). ``faces_skipped`` counts the
    detected faces left unscored by ``--max-faces`` (0 without a cap).
    ``target`` is where ``path`` points when it is a symbolic link.
    ``face_pipeline`` records how the faces were detected and cut.
    """

    path: str
    status: str
    kind: str | None = None
    prob: float | None = None
    label: str | None = None
    threshold: float | None = None
    persons: list[PersonResult] = field(default_factory=list)
    faces: list[FaceResult] = field(default_factory=list)
    frames: list[FrameResult] = field(default_factory=list)
    error: dict[str, str] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    faces_skipped: int = 0
    media: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    model: str | None = None
    model_key: str | None = None
    elapsed_s: float | None = None
    face_pipeline: dict[str, Any] | None = None
    target: str | None = None
    visuals: Visuals | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        return self.status == STATUS_ERROR

    @classmethod
    def not_found(cls, entry: str, detail: str = "no such file or no match") -> FileResult:
        """The result of an input (path, glob, ``@LIST`` entry) that named no file."""
        return cls(path=entry, status=STATUS_ERROR, error={"reason": NOT_FOUND, "detail": detail})

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (no images)."""
        return {
            "path": self.path,
            "status": self.status,
            "kind": self.kind,
            "prob": self.prob,
            "label": self.label,
            "threshold": self.threshold,
            "persons": [p.to_dict() for p in self.persons],
            "faces": [f.to_dict() for f in self.faces],
            "frames": [f.to_dict() for f in self.frames],
            "error": self.error,
            "warnings": list(self.warnings),
            "faces_skipped": self.faces_skipped,
            "media": dict(self.media),
            "sha256": self.sha256,
            "model": self.model,
            "model_key": self.model_key,
            "elapsed_s": self.elapsed_s,
            "face_pipeline": self.face_pipeline,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            path=d["path"],
            status=d["status"],
            kind=d.get("kind"),
            prob=d.get("prob"),
            label=d.get("label"),
            threshold=d.get("threshold"),
            persons=[PersonResult.from_dict(p) for p in d.get("persons", [])],
            faces=[FaceResult.from_dict(f) for f in d.get("faces", [])],
            frames=[FrameResult.from_dict(f) for f in d.get("frames", [])],
            error=d.get("error"),
            warnings=list(d.get("warnings", [])),
            faces_skipped=d.get("faces_skipped", 0),
            media=dict(d.get("media", {})),
            sha256=d.get("sha256"),
            model=d.get("model"),
            model_key=d.get("model_key"),
            elapsed_s=d.get("elapsed_s"),
            face_pipeline=d.get("face_pipeline"),
            target=d.get("target"),
        )
