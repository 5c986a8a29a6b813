"""Face detection, alignment and per-frame face choice: the one face pipeline shared by
extraction, training, evaluation and scanning. Importing this package does not import torch;
the detector backends load it when created."""

from __future__ import annotations

from dfdetect.faces.align import AlignedFace, align_face
from dfdetect.faces.crops import FaceCrop, crop_faces
from dfdetect.faces.detectors import DETECTORS, create_face_detector
from dfdetect.faces.face import Face, FaceDetector
from dfdetect.faces.presets import PRESETS, CropPreset, get_preset
from dfdetect.faces.select import FACE_CHOICES, select_faces

__all__ = [
    "DETECTORS",
    "FACE_CHOICES",
    "PRESETS",
    "AlignedFace",
    "CropPreset",
    "Face",
    "FaceCrop",
    "FaceDetector",
    "align_face",
    "create_face_detector",
    "crop_faces",
    "get_preset",
    "select_faces",
]
