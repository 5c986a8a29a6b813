"""MTCNN face detection (Zhang et al. 2016): image pyramid -> PNet proposals -> RNet
refinement -> ONet boxes and five landmarks. Large images are detected on a downscaled copy;
same-size (detection-size) images run as one batch, on the GPU when present. On the CPU the
three networks run on ONNX Runtime when it is installed (:mod:`dfdetect.faces.mtcnn_onnx`),
else in torch."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dfdetect.errors import ModelNotFoundError
from dfdetect.faces.downscale import downscale, downscale_factor, to_image_pixels
from dfdetect.faces.face import DEFAULT_MAX_SIDE, Face
from dfdetect.faces.mtcnn_nets import load_mtcnn_nets
from dfdetect.faces.mtcnn_resize import area_resize, halve
from dfdetect.faces.nms import batched_nms
from dfdetect.faces.sampling import FaceSampling
from dfdetect.runtime import check_runtime

STAGE_THRESHOLDS = (0.6, 0.7)  # PNet and RNet candidate thresholds of the method
PYRAMID_FACTOR = 0.709  # each pyramid level halves the image area
MAX_PROPOSALS = 3000  # per image at each scale, best PNet scores kept (bounds the work)
PNET_WINDOW = 12  # pixels: the smallest face the cascade can see


class MTCNNDetector:
    """The MTCNN cascade with the facenet-pytorch 2.6.0 weights.

    ``threshold`` applies to the final (ONet) score; ``min_face_size`` (pixels of the input
    image) sets the smallest face the pyramid searches for and drops smaller results;
    ``batch_size`` bounds how many same-size images run through the networks at once.

    ``max_side`` (pixels, None: never) bounds the work on large images: an image whose longer
    side exceeds it is detected on a copy downscaled (OpenCV area averaging) by
    ``s = max_side / longer_side``, with the minimum face size scaled by ``s`` too, and the
    boxes and landmarks are mapped back to the input image's pixels (so alignment still cuts
    from the full-resolution image). A face of ``min_face_size`` pixels thus stays findable as
    long as ``min_face_size * s`` is at least the 12-pixel PNet window. Past that the pyramid
    starts at the window, i.e. at faces of ``12 / s`` input pixels (50 px for a 48 MP
    8000x6000 photo with ``max_side=1920``, 75 px with 1280): smaller faces are found only
    sometimes (in our tests down to about 0.6 of the window), smaller still never, and
    landmarks are only as precise as the face's downscaled pixels allow (``1 / s`` input
    pixels each). Images whose longer side is at most ``max_side`` are detected exactly as
    without it.

    ``runtime``: ``onnx`` runs the networks on ONNX Runtime (CPU only; the graphs are exported
    once and cached, see :mod:`dfdetect.faces.mtcnn_onnx`), with as many threads as torch uses
    and idle threads asleep; ``torch`` runs them in torch; ``auto``
    (default) picks ``onnx`` on the CPU when onnxruntime is installed, else ``torch``. Both
    find the same faces (boxes and landmarks agree to about 1e-3 pixels).
    """

    name = "mtcnn"

    def __init__(
        self,
        *,
        device: str | torch.device | None = None,
        min_face_size: int = FaceSampling.min_face_size,
        threshold: float = 0.9,
        batch_size: int = 16,
        max_side: int | None = DEFAULT_MAX_SIDE,
        runtime: str = "auto",
    ) -> None:
        if min_face_size < PNET_WINDOW:
            raise ValueError(f"min_face_size must be >= {PNET_WINDOW} pixels, got {min_face_size}")
        if max_side is not None and max_side < PNET_WINDOW:
            raise ValueError(f"max_side must be None or >= {PNET_WINDOW} pixels, got {max_side}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        check_runtime(runtime)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.min_face_size = int(min_face_size)
        self.threshold = float(threshold)
        self.batch_size = max(1, int(batch_size))
        self.max_side = None if max_side is None else int(max_side)
        self.runtime = _resolve_runtime(runtime, self.device)
        nets = _onnx_nets(required=runtime == "onnx") if self.runtime == "onnx" else None
        if nets is None:
            self.runtime = "torch"
            nets = tuple(net.to(self.device) for net in load_mtcnn_nets())
        self.pnet, self.rnet, self.onet = nets

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces per image (RGB uint8 H x W x 3), highest score first, in the image's pixels."""
        results: list[list[Face]] = [[] for _ in images]
        inputs: list[np.ndarray] = []
        # batches share the detection size and the minimum face size in its pixels
        groups: dict[tuple[tuple[int, ...], float], list[int]] = {}
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"image {i}: expected RGB uint8 (H, W, 3), got {image.shape}")
            scale = downscale_factor(image.shape, self.max_side)
            inputs.append(image if scale == 1.0 else downscale(image, scale))
            groups.setdefault((inputs[i].shape, self.min_face_size * scale), []).append(i)
        for (_, min_face), members in groups.items():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                batch = np.stack([inputs[i] for i in chunk])
                for i, faces in zip(chunk, self._detect_batch(batch, min_face), strict=True):
                    results[i] = to_image_pixels(faces, inputs[i].shape, images[i].shape)
        return results

    @torch.inference_mode()
    def _detect_batch(self, batch: np.ndarray, min_face: float) -> list[list[Face]]:
        """Faces in ``batch``'s pixels, searched down to ``min_face`` (at least the PNet
        window) and kept from ``min_face`` up."""
        imgs = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float()
        n, _, height, width = imgs.shape
        boxes, groups = self._propose(imgs, max(min_face, PNET_WINDOW))
        halvings = [imgs]  # the frames average-pooled 2x, 4x, ... for cropping candidates
        boxes, groups = self._refine(halvings, boxes, groups)
        boxes, scores, landmarks, groups = self._output(halvings, boxes, groups)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        sides = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = sides >= min_face
        boxes, scores, landmarks, groups = boxes[keep], scores[keep], landmarks[keep], groups[keep]
        results: list[list[Face]] = [[] for _ in range(n)]
        for box, score, points, group in zip(
            boxes.cpu().numpy(),
            scores.cpu().numpy(),
            landmarks.cpu().numpy(),
            groups.tolist(),
            strict=True,
        ):
            results[group].append(Face(box.astype(np.float32), float(score), points))
        for faces in results:
            faces.sort(key=lambda face: -face.score)
        return results

    def _propose(self, imgs: torch.Tensor, min_face: float) -> tuple[torch.Tensor, torch.Tensor]:
        """PNet over the pyramid from faces of ``min_face`` pixels up: square candidate boxes
        (M, 4) and their image index (M,)."""
        height, width = imgs.shape[2:]
        all_boxes, all_scores, all_groups = [], [], []
        level = imgs
        for scale in pyramid_scales(height, width, min_face):
            size = (math.ceil(height * scale), math.ceil(width * scale))
            level = resize_area(level, size)  # each level from the last
            prob, offsets = self.pnet(_normalise(level))
            group, row, col = torch.nonzero(prob > STAGE_THRESHOLDS[0], as_tuple=True)
            scores = prob[group, row, col]
            if scores.numel() > MAX_PROPOSALS * imgs.shape[0]:
                top = scores.topk(MAX_PROPOSALS * imgs.shape[0]).indices
                group, row, col, scores = group[top], row[top], col[top], scores[top]
            cells = torch.stack([col, row, col, row], dim=1).float() * 2
            cells[:, 2:] += 12
            boxes = cells / scale
            boxes = _regress(boxes, offsets[group, :, row, col])
            keep = batched_nms(cells / scale, scores, group, 0.5)
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_groups.append(group[keep])
        if not all_boxes:
            empty = imgs.new_zeros((0, 4))
            return empty, torch.zeros(0, dtype=torch.long, device=imgs.device)
        boxes, scores, groups = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_groups)
        keep = batched_nms(boxes, scores, groups, 0.7)
        return _square(boxes[keep]), groups[keep]

    def _refine(
        self, halvings: list[torch.Tensor], boxes: torch.Tensor, groups: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """RNet on 24x24 crops: rejects candidates, regresses and re-squares the rest."""
        if boxes.shape[0] == 0:
            return boxes, groups
        prob, offsets = self.rnet(_normalise(crop_boxes(halvings, boxes, groups, 24)))
        keep = prob > STAGE_THRESHOLDS[1]
        boxes, prob, offsets, groups = boxes[keep], prob[keep], offsets[keep], groups[keep]
        keep = batched_nms(boxes, prob, groups, 0.7)
        return _square(_regress(boxes[keep], offsets[keep])), groups[keep]

    def _output(
        self, halvings: list[torch.Tensor], boxes: torch.Tensor, groups: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """ONet on 48x48 crops: final scores, boxes and (M, 5, 2) landmarks."""
        if boxes.shape[0] == 0:
            return boxes, boxes.new_zeros(0), boxes.new_zeros((0, 5, 2)), groups
        prob, offsets, points = self.onet(_normalise(crop_boxes(halvings, boxes, groups, 48)))
        keep = prob >= self.threshold
        boxes, prob, offsets, points = boxes[keep], prob[keep], offsets[keep], points[keep]
        groups = groups[keep]
        size = (boxes[:, 2:] - boxes[:, :2])[:, None, :]
        landmarks = boxes[:, None, :2] + torch.stack([points[:, :5], points[:, 5:]], dim=2) * size
        boxes = _regress(boxes, offsets)
        keep = batched_nms(boxes, prob, groups, 0.7, mode="min")
        return boxes[keep], prob[keep], landmarks[keep], groups[keep]


def _resolve_runtime(runtime: str, device: torch.device) -> str:
    """``torch`` or ``onnx``: what ``runtime`` means on ``device``."""
    from dfdetect.faces.mtcnn_onnx import onnxruntime_available

    if runtime == "onnx" and device.type != "cpu":
        raise ValueError(f"runtime onnx runs on the CPU, not {device}")
    if runtime == "onnx" and not onnxruntime_available():
        raise ModelNotFoundError(
            'MTCNN runtime onnx needs onnxruntime: pip install "dfdetect[onnx]"'
        )
    if runtime == "auto":
        return "onnx" if device.type == "cpu" and onnxruntime_available() else "torch"
    return runtime


def _onnx_nets(*, required: bool):
    """The three networks on ONNX Runtime; None, with a warning, when their graphs cannot be
    made and onnx was not ``required`` (e.g. the ``onnx`` package missing beside
    onnxruntime)."""
    from dfdetect.faces.mtcnn_onnx import onnx_nets
    from dfdetect.runtime.export import ExportError

    try:
        return onnx_nets(torch.get_num_threads())
    except ExportError as exc:
        if required:
            raise
        warnings.warn(f"{exc}; running MTCNN in torch instead", UserWarning, stacklevel=3)
        return None


def pyramid_scales(height: int, width: int, min_face: float) -> list[float]:
    """Pyramid scales from faces of ``min_face`` pixels (at the PNet window) up."""
    scale = PNET_WINDOW / min_face
    scales = []
    while min(height, width) * scale >= PNET_WINDOW:
        scales.append(scale)
        scale *= PYRAMID_FACTOR
    return scales


def resize_area(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``images`` (N, C, H, W) downscaled to ``size`` (height, width) by torch's ``area``
    interpolation; on the CPU by :func:`area_resize` (the same windows, faster)."""
    if images.device.type != "cpu":
        return F.interpolate(images, size=size, mode="area")
    pixels = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())
    return torch.from_numpy(np.stack([area_resize(p, size) for p in pixels])).permute(0, 3, 1, 2)


def halve_images(images: torch.Tensor) -> torch.Tensor:
    """``images`` (N, C, H, W) 2x average-pooled, odd sides rounded up; on the CPU by
    :func:`halve` (the same means, 4x faster)."""
    if images.device.type != "cpu":
        return F.avg_pool2d(images, 2, ceil_mode=True)
    pixels = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())
    return torch.from_numpy(np.stack([halve(p) for p in pixels])).permute(0, 3, 1, 2)


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    """Network input: centred, scaled, channels-last (3x faster pooling on CPU)."""
    return ((pixels - 127.5) * (1.0 / 128.0)).contiguous(memory_format=torch.channels_last)


def _regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Move each box edge by its offset times the box width (x) or height (y)."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * size


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square about its centre."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(dim=1, keepdim=True).values / 2
    return torch.cat([centre - half, centre + half], dim=1)


def crop_boxes(
    halvings: list[torch.Tensor], boxes: torch.Tensor, groups: torch.Tensor, size: int
) -> torch.Tensor:
    """Resample each box of its image to ``size`` x ``size`` (zeros outside the image).

    ``halvings`` starts as ``[images]`` and is extended in place with 2x average-pooled
    levels; each box is read from the level at most twice its output size, so bilinear
    sampling does not alias. One ``grid_sample`` call per image and level.
    """
    imgs = halvings[0]
    out = imgs.new_zeros((boxes.shape[0], imgs.shape[1], size, size))
    if boxes.shape[0] == 0:
        return out
    levels = crop_levels(boxes, size)
    for level in range(int(levels.max()) + 1):
        while len(halvings) <= level:
            halvings.append(halve_images(halvings[-1]))
        for group in torch.unique(groups[levels == level]).tolist():
            members = torch.nonzero((levels == level) & (groups == group)).squeeze(1)
            image = halvings[level][group : group + 1]
            out[members] = sample_boxes(image, boxes[members] / (2**level), size)
    return out


def crop_levels(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """The 2x halving each box is read from: the first at most twice the output ``size``."""
    sides = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values.clamp(min=1)
    return torch.clamp(torch.floor(torch.log2(sides / (2 * size))), min=0).long()


def sample_boxes(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Each of ``boxes`` (M, 4, in ``image``'s pixels) of ``image`` (1, C, H, W) resampled
    bilinearly to (M, C, ``size``, ``size``), zeros outside the image."""
    height, width = image.shape[2:]
    steps = (torch.arange(size, device=image.device, dtype=image.dtype) + 0.5) / size
    xs = boxes[:, 0:1] + steps[None] * (boxes[:, 2:3] - boxes[:, 0:1])  # (M, size)
    ys = boxes[:, 1:2] + steps[None] * (boxes[:, 3:4] - boxes[:, 1:2])
    grid = torch.stack(
        [
            (2 * xs[:, None, :] / width - 1).expand(-1, size, -1),
            (2 * ys[:, :, None] / height - 1).expand(-1, -1, size),
        ],
        dim=-1,
    )  # (M, size, size, 2)
    sampled = F.grid_sample(
        image,
        grid.reshape(1, -1, size, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return sampled.reshape(image.shape[1], -1, size, size).transpose(0, 1)
