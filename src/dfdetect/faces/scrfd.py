"""SCRFD face detection (Guo et al. 2021) from InsightFace's ONNX graphs (e.g. ``det_10g.onnx``,
the detector GenD's authors cut their faces with), run by onnxruntime and decoded as
InsightFace's ``SCRFD`` class decodes them.

The weights are InsightFace's, licensed for non-commercial research only: dfdetect never ships
or downloads them by default; the user names a local file or a Hub repository, and the licence
is printed the first time a process loads them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.faces.downscale import downscale, downscale_factor, to_image_pixels
from dfdetect.faces.face import DEFAULT_MAX_SIDE, Face
from dfdetect.faces.nms import nms
from dfdetect.faces.sampling import FaceSampling
from dfdetect.runtime.hub import is_local, snapshot

DEFAULT_FILENAME = "det_10g.onnx"  # SCRFD-10GF with keypoints, in InsightFace's buffalo_l pack
DEFAULT_INPUT_SIZE = 640  # InsightFace's det_size for graphs with a dynamic input size
DEFAULT_THRESHOLD = 0.5  # GenD's app and InsightFace's FaceAnalysis
DEFAULT_NMS_THRESHOLD = 0.4
GRID = 32  # pixels: input sides are multiples of the coarsest stride of 3-level graphs
# number of graph outputs -> (strides, anchors per location), as InsightFace reads a graph; the
# outputs are all scores (one per stride), then all box distances, then all keypoint distances
LAYOUTS = {9: ((8, 16, 32), 2), 15: ((8, 16, 32, 64, 128), 1)}

LICENCE_NOTICE = (
    "dfdetect: the scrfd face detector runs InsightFace's pretrained SCRFD weights ({path}). "
    "InsightFace's pretrained models are licensed for non-commercial research purposes only "
    "(https://github.com/deepinsight/insightface#license); dfdetect does not ship them."
)
HOW_TO_GET = (
    "The scrfd detector runs InsightFace's SCRFD graphs, which dfdetect does not ship "
    "(non-commercial research licence). Get det_10g.onnx from InsightFace's buffalo_l model pack "
    "(e.g. ~/.insightface/models/buffalo_l/ after `insightface` has fetched it, or a Hub "
    "repository holding the pack) and pass its path or folder (model=PATH), or a Hub "
    "repository id (model=OWNER/REPO) with filename=<path of the .onnx in the repository>."
)
_licence_shown = False


class SCRFDDetector:
    """InsightFace's SCRFD detector with five keypoints, exactly as InsightFace runs it.

    Each image is letterboxed into ``input_size`` (aspect kept, resized with OpenCV bilinear
    into the top-left corner, zeros elsewhere), normalised to ``(x - 127.5) / 128`` in RGB
    order (InsightFace swaps its BGR frames to RGB), and run through the graph; every anchor
    scoring at least ``threshold`` becomes a box (distances to its four sides) and five
    keypoints (offsets), both in units of the stride, around the anchor centre; greedy NMS at
    ``nms_threshold`` (InsightFace's IoU, ``+1`` on widths and heights) runs in image pixels.
    Boxes are not clipped to the image (as in InsightFace).

    ``model``: a local ``.onnx`` file, a folder holding ``filename``, or a Hugging Face Hub
    repository id holding ``filename`` (from the Hub cache, downloaded when online).
    ``input_size``: the square side (or ``(width, height)``) of the network input, default
    the graph's own when fixed, else 640. ``min_face_size`` drops faces whose box is smaller
    (longer side, pixels; 0 keeps all, as InsightFace). ``max_side`` as for MTCNN: larger
    images are first downscaled (area averaging) so their longer side is ``max_side``, then
    letterboxed; results come back in the input image's pixels. Frames up to ``max_side`` are
    detected exactly as InsightFace detects them. ``batch_size``: images per run for graphs
    with a batch axis (outputs (N, rows, cols)); det_10g runs one image at a time. ``device``:
    ``"cpu"``, ``"cuda[:N]"`` or None (CUDA when onnxruntime has it).
    """

    name = "scrfd"

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        filename: str = DEFAULT_FILENAME,
        device: str | torch.device | None = None,
        min_face_size: int = FaceSampling.min_face_size,
        threshold: float = DEFAULT_THRESHOLD,
        nms_threshold: float = DEFAULT_NMS_THRESHOLD,
        input_size: int | tuple[int, int] | None = None,
        max_side: int | None = DEFAULT_MAX_SIDE,
        batch_size: int = 16,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        if not 0.0 < nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must lie in (0, 1], got {nms_threshold}")
        if min_face_size < 0:
            raise ValueError(f"min_face_size must be >= 0 pixels, got {min_face_size}")
        if max_side is not None and max_side < GRID:
            raise ValueError(f"max_side must be None or >= {GRID} pixels, got {max_side}")
        self.model_path = resolve_weights(model, filename)
        ort = _onnxruntime()
        _show_licence(self.model_path)
        try:
            self.session = ort.InferenceSession(
                str(self.model_path), providers=_providers(ort, device)
            )
        except Exception as exc:  # onnxruntime's errors for bad files share no base class
            raise CheckpointError(f"{self.model_path}: not a loadable ONNX graph ({exc})") from exc
        self.min_face_size = int(min_face_size)
        self.threshold = float(threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_side = None if max_side is None else int(max_side)
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        self.input_size = _input_size(graph_input.shape, input_size, self.model_path)
        outputs = self.session.get_outputs()
        self.output_names = [output.name for output in outputs]
        # graphs with a batch axis (dynamic, outputs (N, rows, cols)) take several images per
        # run; det_10g takes one (input (1, 3, H, W), outputs (rows, cols))
        batched = not isinstance(graph_input.shape[0], int)
        batched = batched and all(len(output.shape or ()) == 3 for output in outputs)
        self.batch_size = max(1, int(batch_size)) if batched else 1
        if len(self.output_names) not in LAYOUTS:
            raise CheckpointError(
                f"{self.model_path}: {len(self.output_names)} outputs; expected an SCRFD graph "
                "with keypoints (9 outputs: 3 strides x scores/boxes/keypoints, or 15)"
            )
        self.strides, self.anchors = LAYOUTS[len(self.output_names)]
        width, height = self.input_size
        self._centres = [
            anchor_centres(height // s, width // s, s, self.anchors) for s in self.strides
        ]

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces per image (RGB uint8 H x W x 3), highest score first, in the image's pixels."""
        results: list[list[Face]] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            copies, blobs, det_scales = [], [], []
            for i, image in enumerate(chunk, start):
                if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                    raise ValueError(f"image {i}: expected RGB uint8 (H, W, 3), got {image.shape}")
                scale = downscale_factor(image.shape, self.max_side)
                copies.append(image if scale == 1.0 else downscale(image, scale))
                blob, det_scale = letterbox(copies[-1], self.input_size)
                blobs.append(blob)
                det_scales.append(det_scale)
            outputs = self.session.run(self.output_names, {self.input_name: np.concatenate(blobs)})
            for k, (image, copy) in enumerate(zip(chunk, copies, strict=True)):
                mine = [out[k] if out.ndim == 3 else out for out in outputs]
                faces = to_image_pixels(self._faces(mine, det_scales[k]), copy.shape, image.shape)
                results.append([f for f in faces if max(f.width, f.height) >= self.min_face_size])
        return results

    def _faces(self, outputs: Sequence[np.ndarray], det_scale: float) -> list[Face]:
        """One image's faces from its outputs, in pixels of the image that was letterboxed."""
        boxes, scores, points = self.decode(outputs)
        boxes, points = boxes / det_scale, points / det_scale
        keep = nms(
            torch.from_numpy(boxes + np.float32([0, 0, 1, 1])),  # InsightFace's +1 areas
            torch.from_numpy(scores),
            self.nms_threshold,
        ).numpy()
        return [Face(boxes[k], float(scores[k]), points[k]) for k in keep]

    def decode(self, outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4), scores (N,) and keypoints (N, 5, 2), float32 in network-input pixels,
        of the anchors scoring at least ``threshold``, by stride then anchor, from one image's
        outputs (each (rows, cols))."""
        levels = len(self.strides)
        boxes, scores, points = [], [], []
        for level, (stride, centres) in enumerate(zip(self.strides, self._centres, strict=True)):
            rows = len(centres)
            score = self._output(outputs, level, rows, 1)[:, 0]
            keep = score >= self.threshold
            centre = centres[keep]
            distance = self._output(outputs, level + levels, rows, 4)[keep] * stride
            offsets = self._output(outputs, level + 2 * levels, rows, 10)[keep] * stride
            scores.append(score[keep])
            boxes.append(np.concatenate([centre - distance[:, :2], centre + distance[:, 2:]], 1))
            points.append(centre[:, None, :] + offsets.reshape(-1, 5, 2))
        return np.concatenate(boxes), np.concatenate(scores), np.concatenate(points)

    def _output(
        self, outputs: Sequence[np.ndarray], index: int, rows: int, cols: int
    ) -> np.ndarray:
        """One image's output ``index``, checked to be float32 (rows, cols)."""
        out = np.asarray(outputs[index])
        if out.shape != (rows, cols):
            raise CheckpointError(
                f"{self.model_path}: output {index} ({self.output_names[index]!r}) has shape "
                f"{out.shape}, expected ({rows}, {cols}) for a {self.input_size[0]}x"
                f"{self.input_size[1]} input: not an SCRFD graph with keypoints"
            )
        return out.astype(np.float32, copy=False)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The (1, 3, H, W) float32 network input for an RGB uint8 ``image`` and the factor from
    image to input pixels, as InsightFace builds them: the image resized (OpenCV bilinear,
    aspect kept, sides truncated) into the top-left of a black ``size`` = (width, height)
    canvas, then ``(x - 127.5) / 128`` per channel, RGB order."""
    width, height = size
    image_ratio = float(image.shape[0]) / image.shape[1]
    if image_ratio > float(height) / width:
        new_height = height
        new_width = max(1, int(new_height / image_ratio))
    else:
        new_width = width
        new_height = max(1, int(new_width * image_ratio))
    det_scale = float(new_height) / image.shape[0]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_height, :new_width] = cv2.resize(image, (new_width, new_height))
    blob = (canvas.astype(np.float32) - np.float32(127.5)) * np.float32(1.0 / 128.0)
    return np.ascontiguousarray(blob.transpose(2, 0, 1)[None]), det_scale


def anchor_centres(height: int, width: int, stride: int, anchors: int) -> np.ndarray:
    """(height * width * anchors, 2) float32 x, y anchor centres: each grid cell's top-left
    corner times the stride, row by row, repeated for the cell's anchors."""
    ys, xs = np.mgrid[:height, :width]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, anchors, axis=0)


def resolve_weights(model: str | os.PathLike | None, filename: str = DEFAULT_FILENAME) -> Path:
    """The local ``.onnx`` file for ``model`` (a file, a folder holding ``filename``, or a Hub
    repository holding ``filename``); ModelNotFoundError saying how to get it otherwise."""
    if model is None:
        raise ModelNotFoundError(f"no SCRFD weights given. {HOW_TO_GET}")
    text = str(model)
    if is_local(text) or text.endswith(".onnx"):
        path = Path(text).expanduser()
        path = path / filename if path.is_dir() else path
        if not path.is_file():
            raise ModelNotFoundError(f"{path}: no such file. {HOW_TO_GET}")
        return path
    path = snapshot(text, [filename]) / filename
    if not path.is_file():
        raise ModelNotFoundError(
            f"the Hub repository {text!r} has no file {filename!r} (pass filename=). {HOW_TO_GET}"
        )
    return path


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(
            'the scrfd face detector needs onnxruntime: pip install "dfdetect[scrfd]" '
            "(or onnxruntime-gpu for CUDA)"
        ) from err
    return onnxruntime


def _show_licence(path: Path) -> None:
    """Print InsightFace's licence terms to stderr, once per process."""
    global _licence_shown
    if not _licence_shown:
        print(LICENCE_NOTICE.format(path=path), file=sys.stderr)
        _licence_shown = True


def _providers(ort: Any, device: str | torch.device | None) -> list[Any]:
    """onnxruntime execution providers for ``device`` (None: CUDA when available)."""
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    text = str(device) if device is not None else ("cuda" if has_cuda else "cpu")
    if text == "cpu":
        return ["CPUExecutionProvider"]
    kind, _, index = text.partition(":")
    if kind != "cuda" or not (index == "" or index.isdigit()):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if not has_cuda:
        raise ValueError(f"device {text!r}: this onnxruntime has no CUDA (install onnxruntime-gpu)")
    return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]


def _input_size(
    shape: Sequence[Any], requested: int | tuple[int, int] | None, path: Path
) -> tuple[int, int]:
    """(width, height) of the network input: the graph's when fixed, else ``requested``
    (default 640 square); a requested size a fixed graph does not take is an error."""
    fixed = tuple(shape[2:4][::-1]) if all(isinstance(d, int) for d in shape[2:4]) else None
    if requested is None:
        size = fixed or (DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE)
    else:
        size = (requested, requested) if isinstance(requested, int) else tuple(requested)
    if fixed is not None and size != fixed:
        raise ValueError(f"{path}: the graph takes a fixed {fixed[0]}x{fixed[1]} input, not {size}")
    if len(size) != 2 or any(int(side) < GRID or int(side) % GRID for side in size):
        raise ValueError(f"input_size must be multiples of {GRID} pixels, got {size}")
    return int(size[0]), int(size[1])
