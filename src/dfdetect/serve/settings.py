"""Everything a running service is configured with, in one dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dfdetect.faces.sampling import SCAN_SAMPLING
from dfdetect.model import DEFAULT_MODEL
from dfdetect.scan.options import ScanOptions

MB = 1024 * 1024


def usable_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_inflight() -> int:
    """Images analysed at once by default: twice the usable cores. Decoding and face detection
    are CPU-bound, so more at once only makes them contend (measured on 2 cores with 8 clients:
    16.1 requests/s with 4 in flight, 12.6 with 8)."""
    return 2 * usable_cores()


@dataclass(frozen=True)
class ServeSettings:
    """Configuration of one service instance (CLI flags map one-to-one onto these fields).

    ``data_dir`` holds the SQLite job database and every uploaded file (under generated names);
    nothing a client sends is written anywhere else. Image requests beyond
    ``max_inflight_images`` (default: :func:`default_inflight`) wait (at most
    ``max_waiting_images`` of them, each at most ``queue_wait_s``) before a 429. Finished jobs
    are deleted ``job_ttl_s`` after they end (None: kept). A connection whose request headers
    take over ``header_timeout_s`` is closed.
    """

    model: str = DEFAULT_MODEL
    device: str | None = None
    data_dir: Path = Path("dfdetect-serve")
    max_upload_bytes: int = 200 * MB
    api_key: str | None = None
    max_queue: int = 64
    max_inflight_images: int = field(default_factory=default_inflight)
    max_waiting_images: int = 64
    queue_wait_s: float = 30.0
    job_ttl_s: float | None = 24 * 3600.0
    header_timeout_s: float = 10.0
    request_timeout_s: float = 60.0
    upload_timeout_s: float = 300.0
    job_workers: int = 1
    batch_size: int = ScanOptions.batch_size
    batch_wait_s: float = 0.005
    frames: int = SCAN_SAMPLING.frames
    heatmaps: bool = True
    face_detector: str | None = None  # None: the model's recorded face pipeline
    scrfd_model: str | None = None
    runtime: str = "auto"  # dfdetect.runtime.RUNTIMES

    @property
    def uploads_dir(self) -> Path:
        """Where uploads are streamed to, one file per request under a random name."""
        return self.data_dir / "uploads"

    @property
    def database(self) -> Path:
        """The SQLite file holding the job queue and job results."""
        return self.data_dir / "jobs.sqlite3"

    def public(self) -> dict:
        """The limits a client may rely on (served at /v1/info; never the API key)."""
        return {
            "model": self.model,
            "max_upload_bytes": self.max_upload_bytes,
            "max_queue": self.max_queue,
            "max_inflight_images": self.max_inflight_images,
            "max_waiting_images": self.max_waiting_images,
            "job_ttl_s": self.job_ttl_s,
            "request_timeout_s": self.request_timeout_s,
            "upload_timeout_s": self.upload_timeout_s,
            "frames": self.frames,
            "heatmaps": self.heatmaps,
            "auth_required": self.api_key is not None,
        }
