"""ONNX Runtime exports of detectors, cached under :func:`~dfdetect.runtime.cache.cache_root`
by the detector's fingerprint, so later runs load the graph straight away. A cached export that
no longer loads (a truncated or damaged file) is removed and exported again once, with a
warning.

Start-up: each cached export is also recorded under a key of the checkpoint's files as they lie
on disk (paths, sizes, modification times) and of the library versions, so a later run that
needs no gradients loads the graph without building the PyTorch model at all (no transformers
import, no weight hashing). Any change to the files or versions misses and takes the full path.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from dfdetect.atomic import write_text_atomic
from dfdetect.errors import DfdetectError
from dfdetect.model.config import CONFIG_NAME, DetectorConfig
from dfdetect.model.onnx_detector import ONNX_NAME, OnnxDetector
from dfdetect.runtime.cache import cache_root, load_cached

EXPORT_VERSION = 2  # bump when exports change: older cached exports are then not reused
KEYED_PACKAGES = ("dfdetect", "torch", "transformers", "timm", "onnx", "onnxruntime")


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def source_key(name: str, path: Path | None) -> str:
    """A key of the checkpoint files at ``path`` (what ``name`` resolved to; None for
    ``tiny-random``) as they lie on disk (path, size, mtime of each) and of the library
    versions."""
    files: list[Path] = []
    if path is not None:
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    versions = {package: _package_version(package) for package in KEYED_PACKAGES}
    text = json.dumps([EXPORT_VERSION, name, stats, versions], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def memo_path(name: str, path: Path | None, cache: Path | None) -> Path:
    """Where the start-up record of the checkpoint ``name`` (resolved to ``path``) lies."""
    return (cache or cache_root()) / "onnx" / "sources" / f"{source_key(name, path)}.json"


def from_memo(memo: Path, cache: Path | None) -> tuple[OnnxDetector, OnnxDetector, str] | None:
    """The cached export ``memo`` records (as detector, predictor and fingerprint), or None
    when there is none or it does not load."""
    try:
        record = json.loads(memo.read_text())
        folder = (cache or cache_root()) / "onnx" / record["export"]
        config = DetectorConfig.load(folder / CONFIG_NAME)
        if not (folder / ONNX_NAME).is_file():
            return None
        exported = OnnxDetector(config, folder / ONNX_NAME)
        return exported, exported, str(record["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError, DfdetectError):
        return None  # none, stale or torn: take the full path, which rewrites it


def write_memo(memo: Path, exported: OnnxDetector, fingerprint: str) -> None:
    """Record that the checkpoint of ``memo`` runs as ``exported`` with ``fingerprint``."""
    record = {"export": exported.path.parent.name, "fingerprint": fingerprint}
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(memo, json.dumps(record) + "\n")
    except OSError:
        pass  # only the start-up shortcut is lost: the next run takes the full path again


def cached_onnx(detector, cache: Path | None = None) -> OnnxDetector:
    """The ONNX export of the PyTorch ``detector`` from the cache, exported there first when
    missing, and again once (with a warning) when the cached one no longer loads."""
    from dfdetect.model.export import export_onnx
    from dfdetect.model.predictor import fingerprint

    key = hashlib.sha256(f"{EXPORT_VERSION}:{fingerprint(detector)}".encode()).hexdigest()[:32]
    folder = (cache or cache_root()) / "onnx" / key
    return load_cached(
        folder,
        lambda: export_onnx(detector, folder, source_digest=key),
        lambda: OnnxDetector(DetectorConfig.load(folder / CONFIG_NAME), folder / ONNX_NAME),
        lambda: (folder / ONNX_NAME).is_file(),
    )
