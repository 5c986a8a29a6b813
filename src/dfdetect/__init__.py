"""dfdetect: generalizable face-deepfake detection with a LayerNorm-tuned CLIP encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfdetect.version import __version__

if TYPE_CHECKING:
    from dfdetect.model.detector import Detector

__all__ = ["Detector", "__version__"]


def __getattr__(name: str):  # lazy: `import dfdetect` must not import torch
    if name == "Detector":
        from dfdetect.model.detector import Detector

        return Detector
    raise AttributeError(f"module 'dfdetect' has no attribute {name!r}")
