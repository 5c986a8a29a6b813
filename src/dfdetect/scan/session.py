"""A scan as the command runs it: model and face detector loaded once, results stored file by
file in SQLite (re-runs skip finished files) and handed on as each file finishes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from dfdetect.errors import MediaError
from dfdetect.media.sniff import require_regular_file
from dfdetect.scan.options import ScanOptions, stable_hash
from dfdetect.scan.pipeline import ScanPipeline
from dfdetect.scan.results import FileResult
from dfdetect.scan.store import ResultStore, file_sha256
from dfdetect.scan.visuals import encode_visuals
from dfdetect.scan.walk import symlink_target


def model_key(name: str, detector, options: ScanOptions) -> str:
    """``name@hash`` of the detector's config, its trained tensors and the result-changing
    scan options: results stored under one key are interchangeable."""
    weights = hashlib.sha256()
    for param_name, tensor in sorted(detector.trained_state_dict().items()):
        weights.update(param_name.encode())
        weights.update(tensor.detach().float().cpu().numpy().tobytes())
    fingerprint = {
        "config": detector.config.to_dict(),
        "weights": weights.hexdigest(),
        "options": options.result_fingerprint(),
    }
    return f"{name}@{stable_hash(fingerprint)}"


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
        cls, model: str | None, options: ScanOptions, *, device: str | None = None, db: str | Path
    ) -> ScanSession:
        """Open the results database ``db`` (first: a bad path fails before the slow part),
        then load ``model`` (default :data:`dfdetect.model.DEFAULT_MODEL`) and the MTCNN face
        detector on ``device``."""
        from dfdetect.model import DEFAULT_MODEL

        name = model or DEFAULT_MODEL
        store = ResultStore(db)
        try:
            detector, faces = load_scanner(name, options, device)
        except BaseException:
            store.close()
            raise
        pipeline = ScanPipeline(detector, faces, options)
        return cls(pipeline, store, model_key(name, detector, options), name)

    def __enter__(self) -> ScanSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def run(
        self,
        files: list[Path],
        *,
        rescan: bool = False,
        console: Console | None = None,
        on_result: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Scan ``files`` (stored results reused unless ``rescan``); every result is committed
        as soon as its file is finished and handed to ``on_result`` (completion order; results
        reused from earlier scans first). Returns the results in ``files`` order."""
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
        try:
            for path in paths:
                self._hashes[path] = sha = self._content_key(path)
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
                result.sha256, result.model = sha, self.model
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
        return [r for r, _ in self.store.results_for(paths, self.key)]

    def visuals(self, result: FileResult) -> dict[str, bytes]:
        """The report images stored with ``result`` (a result of :meth:`run`), by name."""
        return self.store.visuals(self._hashes[result.path], self.key)

    def image_stem(self, result: FileResult) -> str:
        """A file-name stem for ``result`` that two files of the same name never share."""
        return f"{Path(result.path).stem}-{self._hashes[result.path][:8]}"

    def _content_key(self, path: str) -> str:
        """The file's sha256; for files the scan will refuse (too large, unreadable) a key
        derived from the path, so they are never hashed and always retried."""
        limit = self.pipeline.options.max_file_mb * 1024 * 1024
        try:  # FIFOs and devices are never opened: reading them would block or never end
            if require_regular_file(path).st_size <= limit:
                return file_sha256(path)
        except (MediaError, OSError):  # the scan itself records why the file cannot be read
            pass
        return "unhashed:" + hashlib.sha256(path.encode()).hexdigest()


def _relabel(result: FileResult, path: str) -> FileResult:
    """A stored result reported under the path that holds the content now."""
    result.path, result.target = path, symlink_target(path)
    return result


def load_scanner(name: str, options: ScanOptions, device: str | None):
    """The detector ``name`` on ``device`` and the MTCNN face detector beside it: the one
    place ``scan`` and ``serve`` build the scanner's models."""
    from dfdetect import Detector
    from dfdetect.faces import create_face_detector

    detector = Detector.from_pretrained(name, device=device)
    faces = create_face_detector(
        "mtcnn", device=detector.device, min_face_size=options.min_face_size
    )
    return detector, faces
