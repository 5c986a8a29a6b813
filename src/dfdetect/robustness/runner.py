"""Run the grid: every model on every dataset, clean and under every (type, level) cell;
scores cached per cell, metrics with bootstrap CIs as ``dfdetect evaluate`` computes them."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dfdetect.data.accounting import Accounting
from dfdetect.data.samples import DatasetError, FrameSample
from dfdetect.evaluate import BOOTSTRAP_RESAMPLES, EVAL_BATCH_SIZE
from dfdetect.evaluate.runner import distinct_name, entry_samples
from dfdetect.evaluate.scoring import fake_probabilities, score_samples
from dfdetect.evaluate.summary import frame_table, level_metrics
from dfdetect.faces.presets import CropPreset
from dfdetect.faces.sampling import EXTRACT_SAMPLING
from dfdetect.media import load_image
from dfdetect.model.predictor import fingerprint
from dfdetect.progress import progress_bar
from dfdetect.robustness.cache import VERSION, ScoreCache, digest, files_key, samples_key
from dfdetect.robustness.crops import PerturbedFrames, perturb_sample
from dfdetect.robustness.perturbations import Cell

STAGES = ("crops", "frames")


@dataclass(frozen=True)
class RobustnessOptions:
    """Settings of a run. ``frames``: crops stage, at most that many crops per video (None:
    all); frames stage, frames sampled per source video as extraction samples them (None:
    :data:`~dfdetect.faces.sampling.EXTRACT_SAMPLING`'s)."""

    stage: str = "crops"
    frames: int | None = None
    batch_size: int = EVAL_BATCH_SIZE
    num_workers: int = 0
    n_boot: int = BOOTSTRAP_RESAMPLES
    seed: int = 0
    cache: Path | None = None  # None: <out>/cache
    device: str | None = None  # the face detector's (frames stage)
    progress: bool = True


@dataclass
class CellData:
    """The crops one cell scores: samples, how to load them, the frames stage's face counts."""

    samples: list[FrameSample]
    key: str  # what identifies the crops (with the cell, the cache key)
    dataset: PerturbedFrames | None = None
    sampled: int | None = None  # frames sampled (frames stage)
    found: set[tuple[str, str, str]] | None = None  # frames with a face (frames stage)
    failures: list[tuple[str, str]] = field(default_factory=list)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # frames stage: by reason


@dataclass
class Dataset:
    """One ``--data`` entry: its name, a key for its media, how to get a cell's crops and the
    accounting of its videos as listed (crop folders, or source videos in the frames stage)."""

    name: str
    key: str
    crops: Callable[[Cell, CropPreset], CellData]
    accounting: Accounting


@dataclass
class RobustnessResult:
    """One row per (model, dataset, cell), the datasets that could not be loaded and each
    dataset's accounting on the clean cell."""

    rows: list[dict[str, Any]]
    errors: dict[str, str]
    accounting: dict[str, Accounting] = field(default_factory=dict)


def crop_datasets(entries: Sequence[dict[str, Any]], options: RobustnessOptions):
    """Crops stage: the entries' crop trees, loaded as ``dfdetect evaluate`` loads them."""
    loaded, errors = entry_samples(entries, options.frames)
    datasets = []
    for samples, accounting in loaded:
        key = digest(samples_key(samples))

        def crops(cell: Cell, preset: CropPreset, samples=samples, key=key) -> CellData:
            return CellData(samples, key, PerturbedFrames(samples, cell, options.seed))

        datasets.append(Dataset(samples[0].dataset, key, crops, accounting))
    return datasets, errors


def frame_datasets(entries: Sequence[dict[str, Any]], options: RobustnessOptions, cache: Path):
    """Frames stage: the entries' source videos, extracted per cell into ``cache/frames``."""
    from dfdetect.faces import create_face_detector
    from dfdetect.robustness.frames import dropped_videos, extract_cell, source_videos

    n_frames = options.frames or EXTRACT_SAMPLING.frames
    datasets, errors, face_detector = [], {}, None
    for entry in entries:
        try:
            videos = source_videos(entry)
        except DatasetError as exc:
            errors[f"{entry.get('dataset', 'folder')}={entry['root']}"] = str(exc)
            continue
        name = distinct_name(videos[0].dataset, [d.name for d in datasets])
        videos = [replace(v, dataset=name) for v in videos]
        key = digest(files_key(v.path for v in videos), [v.__dict__ for v in videos], n_frames)

        def crops(cell: Cell, preset: CropPreset, videos=videos, key=key) -> CellData:
            nonlocal face_detector
            if face_detector is None:
                face_detector = create_face_detector("mtcnn", device=options.device)
            where = cache / "frames" / digest(VERSION, key, preset.to_dict(), options.seed)
            with progress_bar(enabled=options.progress) as bar:
                task = bar.add_task(f"{videos[0].dataset} {cell.name} faces", total=len(videos))
                done = extract_cell(
                    videos,
                    cell,
                    where / cell.name,
                    face_detector,
                    preset,
                    n_frames=n_frames,
                    seed=options.seed,
                    on_video=lambda: bar.advance(task),
                )
            found = {f[:3] for f in done.frames if f[3]}
            crops_key = digest(samples_key(done.samples))
            data = CellData(done.samples, crops_key, None, len(done.frames), found, done.failures)
            data.dropped = dropped_videos(videos, done.failures, found)
            return data

        listed = Accounting(name, "source videos", listed=len(videos), found=len(videos))
        datasets.append(Dataset(name, key, crops, listed))
    return datasets, errors


def run_robustness(
    models: Sequence[tuple[str, Any]],
    entries: Sequence[dict[str, Any]],
    cells: Sequence[Cell],
    out: Path,
    options: RobustnessOptions,
) -> RobustnessResult:
    """Score every (model, dataset, cell) and return the metric rows; ``models`` are
    (display name, Detector). The clean cell always comes first."""
    if options.stage not in STAGES:
        raise ValueError(f"unknown stage {options.stage!r} (known: {', '.join(STAGES)})")
    grid = [Cell(), *dict.fromkeys(c for c in cells if c.code is not None)]
    cache_dir = options.cache or out / "cache"
    cache = ScoreCache(cache_dir / "scores")
    if options.stage == "crops":
        datasets, errors = crop_datasets(entries, options)
    else:
        datasets, errors = frame_datasets(entries, options, cache_dir)
    rows: list[dict[str, Any]] = []
    accounts: dict[str, Accounting] = {}
    shutil.rmtree(out / "examples", ignore_errors=True)  # an earlier run's
    total, done = len(models) * len(datasets) * len(grid), 0
    for name, detector in models:
        mkey = fingerprint(detector)
        preset = detector.config.face_pipeline.crop
        aggregation = detector.config.face_pipeline.aggregation
        for data in datasets:
            clean_found: set | None = None
            example: tuple[str, str, str] | None = None  # frames stage: the face to show
            for cell in grid:
                done += 1
                crops = data.crops(cell, preset)
                if cell.code is None:
                    clean_found = crops.found
                    example = _key(crops.samples[0]) if crops.samples else None
                if options.stage == "crops" and cell.code is None:
                    write_examples(crops.samples, grid, out / "examples", options.seed)
                elif options.stage == "frames":
                    _copy_example(crops.samples, out / "examples", cell, example)
                frames, failures, cached = _scores(
                    detector, mkey, data, cell, crops, cache, options
                )
                row = _row(name, data.name, cell, options.stage, crops, clean_found)
                row["unreadable_crops"] = len(failures)
                if cell.code is None:
                    accounts[data.name] = _account(data.accounting, crops, frames)
                    row["data"] = accounts[data.name].to_dict()
                    row["failed_videos"] = [list(f) for f in crops.failures]  # frames stage
                row.update(_metrics(frames, detector.threshold, options, aggregation))
                rows.append(row)
                _report_progress(done, total, row, cached, options.progress)
    return RobustnessResult(rows, errors, accounts)


def _account(listed: Accounting, crops: CellData, frames: pd.DataFrame) -> Accounting:
    """``listed`` once the clean cell's crops were made (frames stage: the source videos it
    dropped) and scored (``frames``: the scored rows)."""
    columns = [frames.get(c, ()) for c in ("source", "video", "frame")]
    scored = set(zip(*columns, strict=True))
    accounting = listed.after_reading(crops.samples, [_key(s) in scored for s in crops.samples])
    return replace(accounting, **crops.dropped)


def _scores(detector, mkey, data, cell, crops: CellData, cache: ScoreCache, options):
    dkey = digest(VERSION, options.stage, data.key, crops.key, cell.name, options.seed)
    hit = cache.load(mkey, dkey, cell.name)
    if hit is not None:
        return *hit, True
    if not crops.samples:
        return pd.DataFrame(), list(crops.failures), False
    scores = score_samples(
        detector,
        crops.samples,
        batch_size=options.batch_size,
        num_workers=options.num_workers,
        progress=options.progress,
        description=f"{data.name} {cell.name}",
        dataset=crops.dataset,
    )
    frames = frame_table(crops.samples, fake_probabilities(detector, scores), scores.logits)
    failures = [*crops.failures, *scores.failures]
    cache.save(mkey, dkey, cell.name, frames, failures)
    return frames, failures, False


def _row(model, dataset, cell: Cell, stage, crops: CellData, clean_found) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": model,
        "dataset": dataset,
        "stage": stage,
        "perturbation": cell.code or "clean",
        "level": cell.level,
        "param": cell.param_label(),
        "faces_sampled": crops.sampled,
        "faces_found": None if crops.found is None else len(crops.found),
        "faces_lost": None,
    }
    if crops.found is not None and clean_found is not None:
        row["faces_lost"] = len(clean_found - crops.found)
    return row


def _metrics(
    frames: pd.DataFrame, threshold: float, options, aggregation: str = "mean"
) -> dict[str, Any]:
    if frames.empty:
        return {"n_frames": 0, "n_videos": 0, "frame": None, "video": None}
    return level_metrics(
        frames,
        threshold=threshold,
        n_boot=options.n_boot,
        seed=options.seed,
        aggregation=aggregation,
    )


def write_examples(samples: Sequence[FrameSample], grid, folder: Path, seed: int) -> None:
    """``clean.png`` and ``<type>/<level>.png``: the first crop under every cell."""
    import cv2

    if not samples or (folder / "clean.png").is_file():
        return
    image = load_image(samples[0].path)
    for cell in grid:
        path = folder / ("clean.png" if cell.code is None else f"{cell.code}/{cell.level}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = perturb_sample(image, samples[0], cell, seed)
        cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))


def _key(sample: FrameSample) -> tuple[str, str, str]:
    return sample.source, sample.video, sample.frame


def _copy_example(
    samples: Sequence[FrameSample], folder: Path, cell: Cell, key: tuple[str, str, str] | None
) -> None:
    """Frames stage: the crop of the clean example's frame under ``cell`` (its first crop when
    that face was lost)."""
    import shutil

    path = folder / ("clean.png" if cell.code is None else f"{cell.code}/{cell.level}.png")
    if not samples or path.is_file():
        return
    chosen = next((s for s in samples if _key(s) == key), samples[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chosen.path, path)


def _report_progress(done: int, total: int, row: dict, cached: bool, enabled: bool) -> None:
    if not enabled:
        return
    video = row.get("video") or {}
    auroc = video.get("auroc", {}).get("value", float("nan")) if video else float("nan")
    faces = f", {row['faces_lost']} faces lost" if row["faces_lost"] is not None else ""
    cell = row["perturbation"] if row["level"] == 0 else f"{row['perturbation']}-{row['level']}"
    print(
        f"[{done}/{total}] {row['model']} | {row['dataset']} | {cell}: {row['n_frames']} crops, "
        f"video AUROC {auroc:.4f}{faces}{' (cached)' if cached else ''}",
        file=sys.stderr,
    )
