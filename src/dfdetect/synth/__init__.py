"""Pseudo-fakes made from real faces: self-blended images (SBI) and Face X-ray style blends."""

from dfdetect.synth.blend import RATIOS, SynthResult, face_blend, self_blend
from dfdetect.synth.hull import HULL_NAME, face_hull
from dfdetect.synth.mask import MaskConfig, blend_mask

__all__ = [
    "HULL_NAME",
    "RATIOS",
    "MaskConfig",
    "SynthResult",
    "blend_mask",
    "face_blend",
    "face_hull",
    "self_blend",
]
