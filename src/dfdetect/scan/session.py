"""A scan as the command runs it: model and face detector loaded once, results stored file by
file in SQLite (re-runs skip finished files), then exported, tabulated and reported."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from dfdetect.errors import ModelNotFoundError
from dfdetect.scan.export import write_results
from dfdetect.scan.options import ScanOptions, stable_hash
from dfdetect.scan.pipeline import ScanPipeline
from dfdetect.scan.results import FileResult
from dfdetect.scan.store import ResultStore, content_key
from dfdetect.scan.visuals import encode_visuals


def model_key(name: str, detector, options: ScanOptions, face_pipeline: dict | None = None) -> str:
    """``name@hash`` of the detector's config, its trained tensors, the face pipeline used and
    the result-changing scan options: results stored under one key are interchangeable."""
    fingerprint = {
        "config": detector.config.to_dict(),
        "weights": detector.weights_digest(),
        "options": options.result_fingerprint(),
        "face_pipeline": face_pipeline,
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
        cls,
        model: str | None,
        options: ScanOptions,
        *,
        device: str | None = None,
        db: str | Path,
        face_detector: str | None = None,
        scrfd_model: str | None = None,
        model_sampling: bool = False,
        runtime: str = "auto",
    ) -> ScanSession:
        """Load ``model`` (default :data:`dfdetect.model.DEFAULT_MODEL`) and the face detector
        its recorded face pipeline asks for (``face_detector`` overrides it; see
        :func:`dfdetect.faces.pipeline.choose_detector`) on ``device``; open the results
        database ``db``. With ``model_sampling``, videos are sampled as the model's pipeline
        says (its frame count and order) instead of ``options.frames``/``options.sampling``.
        ``runtime`` picks the engine that scores faces (:mod:`dfdetect.model.runtime`); heatmaps
        are always computed with PyTorch."""
        from dfdetect import Detector
        from dfdetect.faces.pipeline import build_face_detector
        from dfdetect.model import DEFAULT_MODEL
        from dfdetect.model.runtime import select_runtime

        name = model or DEFAULT_MODEL
        detector = Detector.from_pretrained(name, device=device)
        faces, used = build_face_detector(
            detector.config.face_pipeline,
            device=detector.device,
            min_face_size=options.min_face_size,
            detector=face_detector,
            scrfd_model=scrfd_model,
        )
        if model_sampling:
            options = replace(options, frames=used.frames, sampling=used.sampling, stride=None)
        predictor = select_runtime(detector, runtime)
        explainer = detector if options.explain else None
        if explainer is not None and not hasattr(explainer, "forward"):
            raise ModelNotFoundError(
                f"{name} is an ONNX export: heatmaps (--report, --heatmaps) need the original "
                "PyTorch checkpoint"
            )
        pipeline = ScanPipeline(predictor, faces, options, explainer=explainer, face_pipeline=used)
        key = model_key(name, detector, options, used.to_dict())
        return cls(pipeline, ResultStore(db), key, name)

    def __enter__(self) -> ScanSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def run(
        self, files: list[Path], *, rescan: bool = False, console: Console | None = None
    ) -> list[FileResult]:
        """Scan ``files`` (stored results reused unless ``rescan``); every result is committed
        as soon as its file is finished. Returns the results in ``files`` order."""
        from dfdetect.scan.console import scan_progress

        paths = [str(Path(f).resolve()) for f in files]
        need_visuals = self.pipeline.options.explain
        progress = scan_progress(console) if console is not None else None
        hashing = progress.add_task("hash", total=len(paths), frames=0) if progress else None
        if progress:
            progress.start()
        todo: list[str] = []
        first_of: dict[str, str] = {}  # sha256 -> the path scanned for it
        try:
            for path in paths:
                self._hashes[path] = sha = content_key(path, self.pipeline.options.max_file_mb)
                if progress:
                    progress.advance(hashing)
                if sha in first_of:
                    continue
                first_of[sha] = path
                if not rescan and self.store.get(sha, self.key, need_visuals=need_visuals):
                    self.store.link_path(path, sha, self.key)
                    self.skipped += 1
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
                frames += len(result.frames)
                if progress:
                    progress.update(task, advance=1, frames=frames)
        finally:
            if progress:
                progress.stop()
        for path in paths:
            sha = self._hashes[path]
            if first_of[sha] != path:
                self.store.link_path(path, sha, self.key)
        return [r for r, _ in self.store.results_for(paths, self.key)]

    def export(
        self,
        results: list[FileResult],
        *,
        out: Path | None = None,
        report: Path | None = None,
        heatmaps: Path | None = None,
    ) -> None:
        """Write ``--out`` (JSONL/CSV), ``--report`` (HTML) and ``--heatmaps`` (PNGs)."""
        if out is not None:
            write_results(results, out)
        if report is None and heatmaps is None:
            return
        entries = [(r, self.store.visuals(self._hashes[r.path], self.key)) for r in results]
        if report is not None:
            from dfdetect.report import write_report

            write_report(entries, report, model=self.model)
        if heatmaps is not None:
            for result, images in entries:
                stem = f"{Path(result.path).stem}-{self._hashes[result.path][:8]}"
                for name, data in images.items():
                    if name != "thumbnail":
                        kind, pid = name.split("/")
                        target = heatmaps / stem / f"person{pid}_{kind}.png"
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(data)
