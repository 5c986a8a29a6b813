"""``dfdetect serve``: the HTTP API and web page on uvicorn, or (``--engine ray``) on Ray
Serve."""

from __future__ import annotations

import argparse
import functools
import ipaddress
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from dfdetect.cli.exits import (
    EXIT_ENVIRONMENT,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    check_writable,
    error,
    exit_code,
    fail,
)
from dfdetect.cli.faces import add_face_arguments, add_runtime_argument
from dfdetect.cli.flags import ENGINES, given
from dfdetect.errors import DfdetectError
from dfdetect.serve.settings import MB, ServeSettings, default_inflight

API_KEY_ENV = "DFDETECT_API_KEY"
HOST, PORT, LOG_LEVELS = "127.0.0.1", 8000, ("debug", "info", "warning", "error")

# flag -> ServeSettings field; the defaults live in ServeSettings only (flags default to None)
SETTING_FLAGS = {
    "model": "model",
    "device": "device",
    "data_dir": "data_dir",
    "max_queue": "max_queue",
    "max_inflight": "max_inflight_images",
    "max_waiting": "max_waiting_images",
    "queue_wait": "queue_wait_s",
    "request_timeout": "request_timeout_s",
    "upload_timeout": "upload_timeout_s",
    "header_timeout": "header_timeout_s",
    "job_workers": "job_workers",
    "batch_size": "batch_size",
    "batch_wait": "batch_wait_s",
    "frames": "frames",
    "face_detector": "face_detector",
    "scrfd_model": "scrfd_model",
    "runtime": "runtime",
}
# flag -> ReplicaOptions field (dfdetect.serve.cluster.options)
REPLICA_FLAGS = {
    "ray_address": "address",
    "replicas": "replicas",
    "min_replicas": "min_replicas",
    "max_replicas": "max_replicas",
    "cpus_per_replica": "cpus",
    "gpus_per_replica": "gpus",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect serve``."""
    d = ServeSettings()
    add_face_arguments(parser)
    add_runtime_argument(parser)
    parser.add_argument("--model", help=f"model name or folder (default: {d.model})")
    parser.add_argument("--device", help="torch device (default: cuda when available)")
    parser.add_argument("--host", default=HOST, help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=PORT, help="port (default: %(default)s)")
    parser.add_argument("--data-dir", help=f"job database and uploads (default: {d.data_dir})")
    parser.add_argument(
        "--api-key", default=os.environ.get(API_KEY_ENV),
        help=f"require this key on /v1 routes (default: ${API_KEY_ENV}; none: open)",
    )  # fmt: skip
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    _add_limit_arguments(parser, d)
    _add_analysis_arguments(parser, d)
    _add_ray_arguments(parser)


def _add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine ray`` and the replicas it runs."""
    ray = parser.add_argument_group(
        "Ray engine", "--engine ray: the same service on Ray Serve; --data-dir must be a folder "
        "every node reads and writes, or an fsspec URL such as s3://bucket/prefix (jobs, "
        "uploads and results live there)"
    )  # fmt: skip
    ray.add_argument(
        "--engine", choices=ENGINES, default=None,
        help="single (default): this process; ray: replicas on Ray Serve",
    )  # fmt: skip
    ray.add_argument(
        "--ray-address",
        help="'auto' (the cluster this machine is in) or ray://HOST:PORT (default: a local Ray)",
    )
    ray.add_argument("--replicas", type=int, help="replicas of each deployment (default: 1)")
    ray.add_argument("--min-replicas", type=int, help="autoscaling: fewest replicas (default: 1)")
    ray.add_argument("--max-replicas", type=int, help="autoscaling: most replicas")
    ray.add_argument(
        "--cpus-per-replica", type=float, help="CPUs per replica, fractions allowed (default: 1)"
    )
    ray.add_argument(
        "--gpus-per-replica", type=float, help="GPUs per replica, fractions allowed (default: 0)"
    )


def _add_limit_arguments(parser: argparse.ArgumentParser, d: ServeSettings) -> None:
    """Sizes, queues and timeouts."""
    parser.add_argument(
        "--max-upload-mb", type=float,
        help=f"largest upload (default: {d.max_upload_bytes / MB:g})",
    )  # fmt: skip
    parser.add_argument("--max-queue", type=int, help=f"most jobs waiting (default: {d.max_queue})")
    parser.add_argument(
        "--max-inflight", type=int,
        help=f"most images analyzed at once (default: 2 x CPU cores, here {default_inflight()})",
    )  # fmt: skip
    parser.add_argument(
        "--max-waiting", type=int,
        help=f"image requests waiting for a slot before 429 (default: {d.max_waiting_images})",
    )  # fmt: skip
    parser.add_argument(
        "--queue-wait", type=float,
        help=f"seconds an image request may wait for a slot (default: {d.queue_wait_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--request-timeout", type=float,
        help=f"seconds per image analysis (default: {d.request_timeout_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--upload-timeout", type=float,
        help=f"seconds per upload (default: {d.upload_timeout_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--header-timeout", type=float,
        help=f"seconds a client may take to send its request headers (default: "
        f"{d.header_timeout_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--job-ttl", type=float,
        help=f"seconds a finished job is kept; 0 keeps them (default: {d.job_ttl_s:g})",
    )  # fmt: skip


def _add_analysis_arguments(parser: argparse.ArgumentParser, d: ServeSettings) -> None:
    """How jobs run and faces are batched and scored."""
    parser.add_argument(
        "--job-workers", type=int,
        help=f"threads running jobs; 0 only queues (default: {d.job_workers})",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, help=f"most faces per model call (default: {d.batch_size})"
    )
    parser.add_argument(
        "--batch-wait", type=float, metavar="SECONDS",
        help=f"wait for more faces to batch (default: {d.batch_wait_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--frames", type=int, help=f"frames sampled per video (default: {d.frames})"
    )
    parser.add_argument(
        "--no-heatmaps", action="store_true", help="do not compute heatmaps unless a request asks"
    )


def _out_of_range(args: argparse.Namespace) -> list[str]:
    """The flags given with a value out of their range."""

    def at_least(flag: str, low: float) -> bool:
        return getattr(args, flag) is None or getattr(args, flag) >= low

    def above_zero(flag: str) -> bool:
        return getattr(args, flag) is None or getattr(args, flag) > 0

    checks = {
        "--port": 0 <= args.port <= 65535,
        "--max-upload-mb": above_zero("max_upload_mb"),
        "--max-queue": at_least("max_queue", 1),
        "--max-inflight": at_least("max_inflight", 1),
        "--request-timeout": above_zero("request_timeout"),
        "--upload-timeout": above_zero("upload_timeout"),
        "--job-workers": at_least("job_workers", 0),
        "--batch-size": at_least("batch_size", 1),
        "--batch-wait": at_least("batch_wait", 0),
        "--frames": at_least("frames", 1),
        "--max-waiting": at_least("max_waiting", 0),
        "--queue-wait": above_zero("queue_wait"),
        "--job-ttl": at_least("job_ttl", 0),
        "--header-timeout": above_zero("header_timeout"),
        "--replicas": at_least("replicas", 1),
        "--min-replicas": at_least("min_replicas", 1),
        "--max-replicas": at_least("max_replicas", 1),
        "--cpus-per-replica": above_zero("cpus_per_replica"),
        "--gpus-per-replica": at_least("gpus_per_replica", 0),
    }
    return [name for name, ok in checks.items() if not ok]


def _ray_usage_problem(args: argparse.Namespace) -> str | None:
    """Why the Ray flags given do not go together (None when they do)."""
    ray_flags = ["--" + flag.replace("_", "-") for flag in given(args, REPLICA_FLAGS)]
    if args.engine != "ray":
        if _data_url(args) is not None:
            return f"--data-dir {args.data_dir}: a URL only with --engine ray (else a folder)"
        return f"{', '.join(ray_flags)}: only with --engine ray" if ray_flags else None
    url = _data_url(args)
    if url is not None:
        from dfdetect.serve.cluster.store import missing_package

        missing = missing_package(url)
        if missing is not None:
            return f"--data-dir {url}: {missing}"
    if args.replicas is not None and (args.min_replicas or args.max_replicas) is not None:
        return "--replicas fixes the count: not with --min-replicas/--max-replicas"
    if args.min_replicas is not None and args.max_replicas is None:
        return "--min-replicas needs --max-replicas (autoscaling)"
    if args.max_replicas is not None and args.max_replicas < (args.min_replicas or 1):
        return "--max-replicas is below --min-replicas"
    return None


def _data_url(args: argparse.Namespace) -> str | None:
    """``--data-dir`` when it is a URL (``s3://bucket/prefix``), else None."""
    from dfdetect.scan.cluster.sources import is_url

    return args.data_dir if args.data_dir is not None and is_url(args.data_dir) else None


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """The :class:`ServeSettings` the flags ask for: its defaults, overridden by those given
    (with a ``--data-dir`` URL, the data folder is the local staging folder of uploads)."""
    settings = ServeSettings(**given(args, SETTING_FLAGS), api_key=args.api_key or None)
    url = _data_url(args)
    if url is not None:
        from dfdetect.serve.cluster.store import staging_dir

        settings = replace(settings, data_dir=staging_dir(url))
    elif args.data_dir is not None:
        settings = replace(settings, data_dir=Path(args.data_dir))
    if args.max_upload_mb is not None:
        settings = replace(settings, max_upload_bytes=int(args.max_upload_mb * MB))
    if args.job_ttl is not None:
        settings = replace(settings, job_ttl_s=args.job_ttl or None)
    return replace(settings, heatmaps=False) if args.no_heatmaps else settings


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit code 3 when the model cannot be loaded, 4 when the data
    folder cannot be written or the device is absent."""
    bad = _out_of_range(args)
    if bad:
        error("serve", f"out of range: {', '.join(bad)}")
        return EXIT_USAGE
    problem = _ray_usage_problem(args)
    if problem is not None:
        print(f"dfdetect serve: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    settings = serve_settings(args)
    try:
        from dfdetect.model.device import check_device

        check_device(settings.device)
        check_writable(settings.data_dir, folder=True)
    except (DfdetectError, ValueError) as exc:
        return fail("serve", exc)
    if not settings.api_key and not _is_loopback(args.host):
        print(f"warning: serving on {args.host} without an API key", file=sys.stderr)
    if args.engine == "ray":
        return _run_on_ray(args, settings)
    import uvicorn

    from dfdetect.serve import create_app
    from dfdetect.serve.connections import ServiceProtocol

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    failure: list[BaseException] = []

    def on_load_error(err: BaseException) -> None:
        failure.append(err)
        error("serve", f"cannot load model {settings.model!r}: {err}")
        server.should_exit = True

    app = create_app(settings, on_load_error=on_load_error)
    protocol = functools.partial(ServiceProtocol, header_timeout_s=settings.header_timeout_s)
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, http=protocol)
    )
    server.run()
    return exit_code(failure[0]) if failure else EXIT_OK


def _run_on_ray(args: argparse.Namespace, settings: ServeSettings) -> int:
    """``--engine ray``: deploy on Ray Serve and serve until interrupted."""
    import time

    from dfdetect.serve.cluster.options import ReplicaOptions

    options = ReplicaOptions(**given(args, REPLICA_FLAGS), host=args.host, port=args.port)
    try:
        from dfdetect.serve.cluster import deploy
    except ImportError as exc:
        print(f"dfdetect serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    try:
        url = deploy.start(settings, options, _data_url(args))
    except deploy.ServeError as exc:
        fail("serve", exc)
        return EXIT_MODEL if isinstance(exc, deploy.ReplicasFailed) else EXIT_ENVIRONMENT
    print(f"dfdetect serve: serving on Ray at {url} (Ctrl+C stops)", file=sys.stderr)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl+C
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        deploy.stop()
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
