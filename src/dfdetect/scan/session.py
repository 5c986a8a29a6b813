"""A scan as the command runs it: model and face detector loaded once, results stored file by
file in SQLite (re-runs skip finished files) and handed on as each file finishes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from dfdetect.errors import ModelNotFoundError
from dfdetect.faces.pipeline import FacePipeline
from dfdetect.scan.options import ScanOptions, stable_hash
from dfdetect.scan.pipeline import ScanPipeline
from dfdetect.scan.results import RESULT_VERSION, FileResult
from dfdetect.scan.store import ResultStore, file_key
from dfdetect.scan.visuals import encode_visuals
from dfdetect.scan.walk import symlink_target, why_missing

STEM_BYTES = 100  # of a file's name in --heatmaps folder names (file systems allow 255)


def model_key(
    name: str, fingerprint: str, options: ScanOptions, face_pipeline: dict | None = None
) -> str:
    """``name@hash`` of the detector's fingerprint (see
    :func:`dfdetect.model.predictor.fingerprint`), the face pipeline used and the
    result-changing scan options: results stored under one key are interchangeable."""
    key = {
        "model": fingerprint,
        "options": options.result_fingerprint(),
        "face_pipeline": face_pipeline,
        "results": RESULT_VERSION,
    }
    return f"{name}@{stable_hash(key)}"


class ScanSession:
    """Scans files into a :class:`ResultStore`; build with :meth:`open`."""

    def __init__(self, pipeline: ScanPipeline, store: ResultStore, key: str, model: str) -> None:
        self.pipeline = pipeline
        self.store = store
        self.key = key
        self.model = model
        self.skipped = 0
        self._hashes: dict[str, str] = {}

    @classmethod
    def open(
        cls,
        model: str | None,
        options: ScanOptions,
        *,
        device: str | None = None,
        db: str | Path,
        **scanner: Any,
    ) -> ScanSession:
        """Open the results database ``db`` (first: a bad path fails before the slow part),
        then load ``model`` (default :data:`dfdetect.model.DEFAULT_MODEL`) and its face
        detector on ``device`` (``scanner``: the options of :func:`load_scanner`)."""
        from dfdetect.model import DEFAULT_MODEL

        name = model or DEFAULT_MODEL
        store = ResultStore(db)
        try:
            loaded = load_scanner(name, options, device, **scanner)
        except BaseException:
            store.close()
            raise
        key = model_key(name, loaded.fingerprint, loaded.options, loaded.face_pipeline.to_dict())
        return cls(loaded.pipeline(), store, key, name)

    def __enter__(self) -> ScanSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def run(
        self,
        files: list[Path],
        *,
        missing: Sequence[str] = (),
        rescan: bool = False,
        console: Console | None = None,
        on_result: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Scan ``files`` (stored results reused unless ``rescan``); every result is committed
        as soon as its file is finished and handed to ``on_result`` (completion order; the
        ``not_found`` results of the ``missing`` inputs first, then results reused from earlier
        scans). Returns those of ``missing``, then the others in ``files`` order."""
        from dfdetect.scan.console import scan_progress

        paths = [os.path.abspath(f) for f in files]  # as named: a symlink keeps its own name
        need_visuals = self.pipeline.options.explain
        progress = scan_progress(console) if console is not None else None
        hashing = progress.add_task("hash", total=len(paths), frames=0) if progress else None
        if progress:
            progress.start()
        todo: list[str] = []
        same: dict[str, list[str]] = {}  # sha256 -> the paths holding it, scanned one first
        emit = on_result or (lambda _result: None)
        lost = [FileResult.not_found(entry, why_missing(entry)) for entry in missing]
        for result in lost:
            result.model, result.model_key = self.model, self.key
            emit(result)
        try:
            for path in paths:
                self._hashes[path] = sha = file_key(path, self.pipeline.options.max_file_mb)
                if progress:
                    progress.advance(hashing)
                if sha in same:
                    same[sha].append(path)
                    continue
                same[sha] = [path]
                stored = (
                    None if rescan else self.store.get(sha, self.key, need_visuals=need_visuals)
                )
                if stored is not None:
                    self.store.link_path(path, sha, self.key)
                    self.skipped += 1
                    emit(_relabel(stored, path))
                else:
                    todo.append(path)
            if progress:
                progress.remove_task(hashing)
                task = progress.add_task("scan", total=len(paths), frames=0)
                progress.update(task, completed=len(paths) - len(todo))
            frames = 0
            for result in self.pipeline.scan(todo):
                sha = self._hashes[result.path]
                result.sha256, result.model, result.model_key = sha, self.model, self.key
                self.store.put(result, sha, self.key, encode_visuals(result.visuals))
                emit(result)
                frames += len(result.frames)
                if progress:
                    progress.update(task, advance=1, frames=frames)
        finally:
            if progress:
                progress.stop()
        for sha, holders in same.items():
            for path in holders[1:]:
                self.store.link_path(path, sha, self.key)
                found = next(self.store.results_for([path], self.key), None)
                if found is not None:
                    emit(found[0])
        return lost + [r for r, _ in self.store.results_for(paths, self.key)]

    def visuals(self, result: FileResult) -> dict[str, bytes]:
        """The report images stored with ``result`` (a result of :meth:`run`), by name."""
        return self.store.visuals(self._hashes[result.path], self.key)

    def image_stem(self, result: FileResult) -> str:
        """A file-name stem for ``result`` that two files of the same name never share, short
        enough for any file system (the name cut to ``STEM_BYTES``, then the content hash)."""
        stem = Path(result.path).stem
        while len(os.fsencode(stem)) > STEM_BYTES:
            stem = stem[:-1]
        return f"{stem}-{self._hashes[result.path][:8]}"


def _relabel(result: FileResult, path: str) -> FileResult:
    """A stored result reported under the path that holds the content now."""
    result.path, result.target = path, symlink_target(path)
    return result


@dataclass
class Scanner:
    """What scans faces: the model (PyTorch, or an ONNX export), the engine that scores
    (``predictor``: the model or its ONNX Runtime export), the model's fingerprint (what results
    are keyed by), the face detector, the face pipeline actually used and the scan options."""

    detector: Any
    predictor: Any
    fingerprint: str
    faces: Any
    face_pipeline: FacePipeline
    options: ScanOptions

    def pipeline(self, predictor: Any = None, options: ScanOptions | None = None) -> ScanPipeline:
        """A :class:`ScanPipeline` over these (``predictor``/``options`` replace the own);
        heatmaps are computed with the PyTorch model."""
        options = options or self.options
        if options.explain and not hasattr(self.detector, "forward"):
            raise ModelNotFoundError(
                "heatmaps (--report, --heatmaps) need gradients: load the original PyTorch "
                "checkpoint, not an ONNX export"
            )
        return ScanPipeline(
            predictor or self.predictor,
            self.faces,
            options,
            explainer=self.detector if options.explain else None,
            face_pipeline=self.face_pipeline,
        )


def load_scanner(
    name: str,
    options: ScanOptions,
    device: str | None,
    *,
    face_detector: str | None = None,
    scrfd_model: str | None = None,
    runtime: str = "auto",
    model_sampling: bool = False,
    need_torch: bool | None = None,
) -> Scanner:
    """The detector ``name`` on ``device``, the engine that scores with it (``runtime``, see
    :func:`dfdetect.model.loading.load_predictor`) and the face detector its recorded face
    pipeline asks for (``face_detector`` overrides it; see
    :func:`dfdetect.faces.pipeline.choose_detector`): the one place ``scan`` and ``serve`` build
    the scanner. With ``model_sampling`` videos are sampled as the model's pipeline says (its
    frame count and order) instead of ``options.frames``/``options.sampling``. ``need_torch``
    (default: ``options.explain``) keeps the PyTorch model for heatmaps even when ONNX Runtime
    scores."""
    from dfdetect.faces.pipeline import build_face_detector
    from dfdetect.model.loading import load_predictor

    if need_torch is None:
        need_torch = options.explain
    model = load_predictor(name, runtime=runtime, device=device, need_torch=need_torch)
    detector = model.detector
    faces, used = build_face_detector(
        detector.config.face_pipeline,
        device=detector.device,
        min_face_size=options.min_face_size,
        detector=face_detector,
        scrfd_model=scrfd_model,
    )
    if model_sampling:
        options = replace(options, frames=used.frames, sampling=used.sampling, stride=None)
    return Scanner(detector, model.predictor, model.fingerprint, faces, used, options)
