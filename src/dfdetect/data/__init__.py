"""Datasets for training and evaluation: layouts that turn dataset layouts into labelled,
grouped face-crop samples, frame sampling, pairing and augmentations.

Importing this package does not import torch; :mod:`dfdetect.data.dataset` does.
"""

from __future__ import annotations

from dfdetect.data.layouts import DatasetLayout, create_dataset, dataset_names
from dfdetect.data.samples import FAKE, REAL, DatasetError, FrameSample, group_by_video

__all__ = [
    "FAKE",
    "REAL",
    "DatasetError",
    "DatasetLayout",
    "FrameSample",
    "create_dataset",
    "dataset_names",
    "group_by_video",
]
