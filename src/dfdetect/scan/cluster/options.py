"""Where a Ray scan runs and how wide: cluster address, model workers, CPUs and GPUs per stage,
batching and how often results reach the disk."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterOptions:
    """Options of :func:`dfdetect.scan.cluster.engine.scan_on_ray`.

    ``address`` None starts a local Ray (stopped afterwards); ``"auto"`` joins the cluster
    this machine belongs to; ``"ray://HOST:PORT"`` connects through Ray Client. There are
    ``model_workers`` model actors with ``gpus_per_model_worker`` GPUs and ``model_cpus``
    CPUs each (None: one actor per GPU when the cluster has GPUs, else one CPU actor); each
    actor call scores the faces of ``model_batch_files`` files. Prepare tasks (hash, decode,
    detect, align) take ``prepare_cpus`` CPUs and ``files_per_task`` files each. Parquet
    results go into a new part file every ``part_rows`` files or ``flush_s`` seconds.
    A prepare task whose worker dies is retried ``max_retries`` times; a model actor is
    restarted and its call retried as often.
    """

    address: str | None = None
    model_workers: int | None = None
    gpus_per_model_worker: float | None = None
    model_cpus: float = 1.0
    prepare_cpus: float = 1.0
    files_per_task: int = 2
    model_batch_files: int = 8
    part_rows: int = 1000
    flush_s: float = 30.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        for name in ("files_per_task", "model_batch_files", "part_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.model_workers is not None and self.model_workers < 1:
            raise ValueError(f"model_workers must be >= 1, got {self.model_workers}")
        for name in ("gpus_per_model_worker", "model_cpus", "max_retries"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not self.prepare_cpus > 0:
            raise ValueError(f"prepare_cpus must be > 0, got {self.prepare_cpus}")
        if not self.flush_s > 0:
            raise ValueError(f"flush_s must be > 0, got {self.flush_s}")

    def model_pool(self, cluster_gpus: float) -> tuple[int, float]:
        """``(actors, GPUs per actor)`` on a cluster holding ``cluster_gpus`` GPUs."""
        gpus = self.gpus_per_model_worker
        if gpus is None:
            gpus = 1.0 if cluster_gpus >= 1 else 0.0
        workers = self.model_workers
        if workers is None:
            workers = max(1, int(cluster_gpus // gpus)) if gpus else 1
        return workers, gpus
