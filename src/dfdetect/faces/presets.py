"""Face-crop presets: where the five landmarks land in the crop, the context margin, the size.

A preset is the whole geometry of a crop, so it is recorded with every extracted face and with
every model trained on such faces (``CropPreset.to_dict`` / ``CropPreset.from_dict``).
Numpy only: the model config imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

# GenD's template: the five points as fractions of the crop before the context margin.
GEND_TEMPLATE = ((0.34, 0.46), (0.66, 0.46), (0.50, 0.64), (0.37, 0.82), (0.63, 0.82))

# The standard ArcFace 5-point template in a 112x112 crop (used by DeepfakeBench), as fractions.
ARCFACE_TEMPLATE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
ARCFACE_TEMPLATE = tuple((x / 112.0, y / 112.0) for x, y in ARCFACE_TEMPLATE_112)

# How a native-size crop (``size=None``) picks its side: "lmeds" keeps the scale of the fitted
# similarity, "gend" is GenD's rule (``--target_size none``) from landmark distances.
SizeRule = Literal["lmeds", "gend"]
SIZE_RULES: tuple[str, ...] = get_args(SizeRule)


@dataclass(frozen=True, eq=False)
class CropPreset:
    """Geometry of an aligned face crop.

    ``template`` holds the (5, 2) landmark positions as fractions of a tight crop; ``margin``
    (> 0) zooms out about the crop centre to keep context (1.3 = 30 % more face width);
    ``size`` is the output side in pixels, or ``None`` for native resolution (the crop keeps
    the face's scale in the source image). ``size_rule`` says how a native side is measured
    (see :func:`dfdetect.faces.align.native_side`): ``"lmeds"``, the scale of the fitted
    similarity, or ``"gend"``, GenD's mean ratio of pairwise landmark distances (detected vs
    template) times the margin. It does not matter for a fixed ``size``.
    """

    name: str
    template: np.ndarray = field(repr=False)
    margin: float = 1.3
    size: int | None = 256
    size_rule: SizeRule = "lmeds"

    def __post_init__(self) -> None:
        template = np.asarray(self.template, dtype=np.float32)
        if template.shape != (5, 2):
            raise ValueError(f"preset {self.name!r}: template must be (5, 2), got {template.shape}")
        if not self.margin > 0:
            raise ValueError(f"preset {self.name!r}: margin must be > 0, got {self.margin}")
        if self.size is not None and int(self.size) < 8:
            raise ValueError(f"preset {self.name!r}: size must be >= 8 or None, got {self.size}")
        if self.size_rule not in SIZE_RULES:
            raise ValueError(
                f"preset {self.name!r}: size_rule must be one of {SIZE_RULES}, "
                f"got {self.size_rule!r}"
            )
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "margin", float(self.margin))
        object.__setattr__(self, "size", None if self.size is None else int(self.size))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CropPreset) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def destination(self, size: float) -> np.ndarray:
        """The (5, 2) float32 landmark targets in pixels of a ``size`` x ``size`` crop, margin
        applied: ``((template - 0.5) / margin + 0.5) * size``, computed in GenD's order (the
        template scaled, shifted by the margin, shrunk) so that its float32 values, and the
        similarity fitted to them, are GenD's bit for bit."""
        border = size * (self.margin - 1) / 2.0
        return (self.template * size + border) * (size / (size + 2 * border))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (recorded in manifests and model configs)."""
        return {
            "name": self.name,
            "template": [[round(float(v), 6) for v in point] for point in self.template],
            "margin": self.margin,
            "size": self.size,
            "size_rule": self.size_rule,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropPreset:
        """Inverse of :meth:`to_dict`; missing keys take the named preset's values."""
        base = PRESETS.get(data.get("name", ""))
        template = data.get("template", None if base is None else base.template)
        if template is None:
            raise ValueError(f"face-crop preset {data!r} has no template and no known name")
        return cls(
            name=str(data.get("name", "custom")),
            template=np.asarray(template, dtype=np.float32),
            margin=float(data.get("margin", 1.3 if base is None else base.margin)),
            size=data.get("size", 256 if base is None else base.size),
            size_rule=data.get("size_rule", "lmeds" if base is None else base.size_rule),
        )


PRESETS: dict[str, CropPreset] = {
    "gend": CropPreset("gend", np.asarray(GEND_TEMPLATE), margin=1.3, size=256),
    "arcface": CropPreset("arcface", np.asarray(ARCFACE_TEMPLATE), margin=1.3, size=256),
}


def get_preset(
    name: str, *, size: int | None | str = "default", size_rule: SizeRule | None = None
) -> CropPreset:
    """The named preset (``"gend"`` or ``"arcface"``); ``size`` overrides the output side
    (``None`` = native resolution) and ``size_rule`` how a native side is measured. Unknown
    names raise with the list of known ones."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown face-crop preset {name!r}; known: {sorted(PRESETS)}") from None
    if size != "default":
        preset = replace(preset, size=size)  # type: ignore[arg-type]
    return preset if size_rule is None else replace(preset, size_rule=size_rule)
