"""Prometheus metrics of one service instance, and the ASGI middleware that records requests."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServiceMetrics:
    """The service's metrics in their own registry (several apps may live in one process)."""

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, CPU seconds
        self.requests = Counter(
            "dfdetect_http_requests",
            "HTTP requests by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dfdetect_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge(
            "dfdetect_jobs_queued", "Jobs waiting in the queue", registry=self.registry
        )
        self.queue.set_function(queue_depth)
        self.faces = Counter(
            "dfdetect_faces_scored", "Faces scored by the model", registry=self.registry
        )
        self.files = Counter(
            "dfdetect_files_analyzed",
            "Files analyzed, by outcome (ok, no_face, error, cancelled)",
            ["outcome"],
            registry=self.registry,
        )
        self.batch = Histogram(
            "dfdetect_model_batch_faces",
            "Faces per model call after dynamic batching",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )

    def record_batch(self, n_faces: int) -> None:
        """Count one model call of ``n_faces`` faces (the batcher's ``on_batch`` hook)."""
        self.faces.inc(n_faces)
        self.batch.observe(n_faces)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every request and times it under its route template (``/v1/jobs/{job_id}``)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
