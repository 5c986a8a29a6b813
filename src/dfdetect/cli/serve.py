"""``dfdetect serve``: the HTTP API and web page on uvicorn."""

from __future__ import annotations

import argparse
import functools
import ipaddress
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from dfdetect.cli.exits import (
    EXIT_OK,
    EXIT_USAGE,
    check_writable,
    exit_code,
    fail,
)
from dfdetect.cli.faces import add_face_arguments, add_runtime_argument
from dfdetect.errors import DfdetectError
from dfdetect.model import DEFAULT_MODEL
from dfdetect.serve.settings import ServeSettings, default_inflight

API_KEY_ENV = "DFDETECT_API_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect serve``."""
    add_face_arguments(parser)
    add_runtime_argument(parser)
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="model name or folder (default: %(default)s)"
    )
    parser.add_argument(
        "--device", default=None, help="torch device (default: cuda when available)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("dfdetect-serve"),
        help="job database and uploads (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--max-upload-mb", type=float, default=200.0, help="largest upload (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key", default=os.environ.get(API_KEY_ENV),
        help=f"require this key on /v1 routes (default: ${API_KEY_ENV}; none: open)",
    )  # fmt: skip
    parser.add_argument(
        "--max-queue", type=int, default=64, help="most jobs waiting (default: %(default)s)"
    )
    parser.add_argument(
        "--max-inflight",
        type=int,
        default=None,
        help=f"most images analyzed at once (default: 2 x CPU cores, here {default_inflight()})",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=60.0,
        help="seconds per image analysis (default: %(default)s)",
    )
    parser.add_argument(
        "--upload-timeout",
        type=float,
        default=300.0,
        help="seconds per upload (default: %(default)s)",
    )
    parser.add_argument(
        "--job-workers",
        type=int,
        default=1,
        help="threads running jobs; 0 only queues (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="most faces per model call (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-wait-ms",
        type=float,
        default=5.0,
        help="wait for more faces to batch (default: %(default)s)",
    )
    parser.add_argument(
        "--frames", type=int, default=32, help="frames sampled per video (default: %(default)s)"
    )
    parser.add_argument(
        "--no-heatmaps", action="store_true", help="do not compute heatmaps unless a request asks"
    )
    d = ServeSettings()
    parser.add_argument(
        "--max-waiting", type=int, default=None,
        help=f"image requests waiting for a slot before 429 (default: {d.max_waiting_images})",
    )  # fmt: skip
    parser.add_argument(
        "--queue-wait", type=float, default=None,
        help=f"seconds an image request may wait for a slot (default: {d.queue_wait_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--job-ttl", type=float, default=None,
        help=f"seconds a finished job is kept; 0 keeps them (default: {d.job_ttl_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--header-timeout", type=float, default=None,
        help=f"seconds a client may take to send its request headers (default: "
        f"{d.header_timeout_s:g})",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit code 3 when the model cannot be loaded, 4 when the data
    folder cannot be written or the device is absent."""
    checks = {
        "--port": 0 <= args.port <= 65535,
        "--max-upload-mb": args.max_upload_mb > 0,
        "--max-queue": args.max_queue >= 1,
        "--max-inflight": args.max_inflight is None or args.max_inflight >= 1,
        "--request-timeout": args.request_timeout > 0,
        "--upload-timeout": args.upload_timeout > 0,
        "--job-workers": args.job_workers >= 0,
        "--batch-size": args.batch_size >= 1,
        "--batch-wait-ms": args.batch_wait_ms >= 0,
        "--frames": args.frames >= 1,
        "--max-waiting": args.max_waiting is None or args.max_waiting >= 0,
        "--queue-wait": args.queue_wait is None or args.queue_wait > 0,
        "--job-ttl": args.job_ttl is None or args.job_ttl >= 0,
        "--header-timeout": args.header_timeout is None or args.header_timeout > 0,
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        print(f"error: out of range: {', '.join(bad)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from dfdetect.model.device import check_device

        check_device(args.device)
        check_writable(args.data_dir, folder=True)
    except (DfdetectError, ValueError) as exc:
        return fail("serve", exc)
    if not args.api_key and not _is_loopback(args.host):
        print(f"warning: serving on {args.host} without an API key", file=sys.stderr)
    import uvicorn

    from dfdetect.serve import create_app
    from dfdetect.serve.connections import HeaderTimeoutProtocol
    from dfdetect.serve.settings import MB

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    settings = ServeSettings(
        model=args.model,
        device=args.device,
        data_dir=args.data_dir,
        max_upload_bytes=int(args.max_upload_mb * MB),
        api_key=args.api_key or None,
        max_queue=args.max_queue,
        request_timeout_s=args.request_timeout,
        upload_timeout_s=args.upload_timeout,
        job_workers=args.job_workers,
        batch_size=args.batch_size,
        batch_wait_s=args.batch_wait_ms / 1000,
        frames=args.frames,
        heatmaps=not args.no_heatmaps,
        face_detector=args.face_detector,
        scrfd_model=args.scrfd_model,
        runtime=args.runtime,
        **_given(
            max_inflight_images=args.max_inflight,
            max_waiting_images=args.max_waiting,
            queue_wait_s=args.queue_wait,
            header_timeout_s=args.header_timeout,
        ),
    )
    if args.job_ttl is not None:
        settings = replace(settings, job_ttl_s=args.job_ttl or None)
    failure: list[BaseException] = []

    def on_load_error(err: BaseException) -> None:
        failure.append(err)
        print(f"error: cannot load model {args.model!r}: {err}", file=sys.stderr)
        server.should_exit = True

    app = create_app(settings, on_load_error=on_load_error)
    protocol = functools.partial(HeaderTimeoutProtocol, header_timeout_s=settings.header_timeout_s)
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, http=protocol)
    )
    server.run()
    return exit_code(failure[0]) if failure else EXIT_OK


def _given(**options) -> dict:
    """The options given on the command line (the rest keep ServeSettings' defaults)."""
    return {k: v for k, v in options.items() if v is not None}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
