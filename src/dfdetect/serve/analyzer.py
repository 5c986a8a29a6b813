"""The model side of the service: the detector, the face detector, the dynamic batcher and the
scan pipeline that the routes and job workers call."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dfdetect.errors import MediaError
from dfdetect.scan.store import file_sha256
from dfdetect.serve.batching import DynamicBatcher
from dfdetect.serve.settings import MB, ServeSettings

MAX_HEATMAP_PERSONS = 8  # heatmaps of the most suspicious persons only: bounded response size


class Analyzer:
    """Scores uploads with the scan pipeline; ``predict`` calls of concurrent requests share
    model batches through one :class:`DynamicBatcher`."""

    def __init__(self, model: str, batcher: DynamicBatcher, pipelines: dict[bool, Any]) -> None:
        self.model = model
        self.batcher = batcher
        self.pipelines = pipelines  # keyed by "with heatmaps"

    @classmethod
    def load(
        cls,
        settings: ServeSettings,
        on_batch: Callable[[int], None] | None = None,
        scorer: Callable[[Any], Any] | None = None,
    ) -> Analyzer:
        """Load the model named in ``settings`` and build the pipelines (slow: call once).

        Faces are scored through ``scorer(predictor)`` when given (something with the
        :class:`DynamicBatcher`'s ``predict``, ``threshold``, ``config``, ``joining`` and
        ``close``), else through a :class:`DynamicBatcher` in this process."""
        from dfdetect.scan.options import ScanOptions
        from dfdetect.scan.session import load_scanner

        options = ScanOptions(
            frames=settings.frames,
            batch_size=settings.batch_size,
            max_file_mb=settings.max_upload_bytes / MB,
        )
        scanner = load_scanner(
            settings.model,
            options,
            settings.device,
            face_detector=settings.face_detector,
            scrfd_model=settings.scrfd_model,
            runtime=settings.runtime,
            need_torch=True,  # requests may ask for heatmaps
        )
        if scorer is not None:
            batcher = scorer(scanner.predictor)
        else:
            batcher = DynamicBatcher(
                scanner.predictor, settings.batch_size, settings.batch_wait_s, on_batch
            )
        # heatmaps need gradients: PyTorch; an ONNX export serves scores only
        explains = (False, True) if hasattr(scanner.detector, "forward") else (False,)
        pipelines = {
            explain: scanner.pipeline(batcher, replace(options, explain=explain))
            for explain in explains
        }
        return cls(settings.model, batcher, pipelines)

    @property
    def threshold(self) -> float:
        """The model's decision threshold on P(fake)."""
        return float(self.batcher.threshold)

    def close(self) -> None:
        """Stop the batcher's model thread."""
        self.batcher.close()

    def analyze(
        self, path: Path, filename: str, heatmaps: bool, cancel: threading.Event | None = None
    ) -> dict:
        """The scan result of one stored upload as JSON-ready dict, named ``filename``.

        Raises :class:`MediaError` (with the scan's reason) when the file cannot be analyzed,
        :class:`~dfdetect.errors.Cancelled` once ``cancel`` is set; a readable file without
        faces is a result with status ``no_face``.
        """
        with self.batcher.joining():  # batches wait for this request's faces
            pipeline = self.pipelines[heatmaps and True in self.pipelines]
            result = pipeline.analyze_path(path, cancel)
        if result.failed:
            error = result.error or {}
            raise MediaError(filename, error.get("reason", "unreadable"), error.get("detail", ""))
        out = result.to_dict()
        out["path"] = filename  # never the storage path
        out["model"] = self.model
        out["sha256"] = file_sha256(path)
        if result.visuals is not None:
            out["heatmaps"] = _heatmaps(result)
        return out


def _heatmaps(result) -> list[dict]:
    """Per person (most suspicious first): heatmap overlays on the crop and on the frame."""
    from dfdetect.explain import encode_image

    persons = sorted(result.persons, key=lambda p: -p.prob)[:MAX_HEATMAP_PERSONS]
    visuals = result.visuals
    return [
        {
            "person": p.id,
            "crop": _data_uri(encode_image(visuals.crops[p.id], ".jpg")),
            "frame": _data_uri(encode_image(visuals.heatmaps[p.id], ".jpg")),
        }
        for p in persons
        if p.id in visuals.crops
    ]


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
