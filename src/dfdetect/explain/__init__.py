"""Explanations of a detector's score: gradient-based heatmaps on face crops, warped back
onto the frames they came from."""

from __future__ import annotations

from dfdetect.explain.gradients import attribution, heatmaps
from dfdetect.explain.overlay import encode_image, overlay, warp_to_frame

__all__ = ["attribution", "encode_image", "heatmaps", "overlay", "warp_to_frame"]
