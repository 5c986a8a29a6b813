"""Load test of ``dfdetect serve``: N concurrent clients post images; throughput, latency, memory.

Starts a tiny-random server on 127.0.0.1 (or targets ``--url``, loopback only), then for each
client count runs clients that POST /v1/images until ``--requests`` answers or ``--seconds``
pass, whichever comes first. Prints a table and, with ``--json``, writes the figures.
``--before REV`` first runs the same load against a server of the code as of git revision REV
(its ``src/`` exported with ``git archive``), so both versions' rows print side by side.
``--engine ray --replicas 1,2`` loads the single-process service first, then ``serve --engine
ray`` (a local Ray) with each replica count, so the rows show Ray Serve's overhead.

    python benchmarks/load_serve.py --clients 1,4,8 --requests 60 --seconds 60
    python benchmarks/load_serve.py --clients 1,4,8 --before 807d21c
    python benchmarks/load_serve.py --clients 4 --engine ray --replicas 1,2
    python benchmarks/load_serve.py --url http://127.0.0.1:8000 --api-key KEY --clients 4
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from dfdetect.serve.process import ServerProcess
from dfdetect.serve.settings import usable_cores

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples" / "faces"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def bench_image(path: Path | None) -> bytes:
    """PNG bytes of ``path``, else a shared sample face pasted into a 640x480 frame, else noise."""
    if path is not None:
        return path.read_bytes()
    canvas = np.full((480, 640, 3), 128, np.uint8)
    samples = sorted(SAMPLES.glob("*/*/*/*.png"))
    if samples:
        face = Image.open(samples[0]).convert("RGB").resize((240, 240))
        canvas[120:360, 200:440] = np.asarray(face)
    else:
        canvas[:] = np.random.default_rng(0).integers(0, 255, canvas.shape, dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(canvas).save(out, format="PNG")
    return out.getvalue()


def metric(url: str, headers: dict, name: str) -> float:
    """One unlabelled sample from the server's /metrics (0 when absent)."""
    for line in httpx.get(f"{url}/metrics", headers=headers, timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def run_load(
    url: str, headers: dict, image: bytes, clients: int, requests: int, seconds: float
) -> dict:
    """``clients`` threads posting ``image`` until ``requests`` answers or ``seconds`` pass."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    faces = 0
    lock = threading.Lock()
    issued = 0
    deadline = time.monotonic() + seconds

    def client() -> None:
        nonlocal issued, faces
        with httpx.Client(base_url=url, headers=headers, timeout=max(seconds, 30)) as http:
            while time.monotonic() < deadline:
                with lock:
                    if issued >= requests:
                        return
                    issued += 1
                start = time.perf_counter()
                try:
                    response = http.post(
                        "/v1/images",
                        files={"file": ("bench.png", image)},
                        params={"heatmaps": "false"},
                    )
                    status = response.status_code
                except httpx.TransportError:
                    status = 0
                elapsed = time.perf_counter() - start
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(elapsed)
                        faces += len(response.json()["faces"])

    calls_before = metric(url, headers, "dfdetect_model_batch_faces_count")
    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    calls = metric(url, headers, "dfdetect_model_batch_faces_count") - calls_before
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "clients": clients,
        "ok": len(latencies),
        "errors": sum(n for s, n in statuses.items() if s != 200),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 2),
        "faces_per_s": round(faces / wall, 2),
        "faces_per_model_call": round(faces / calls, 2) if calls else None,
        "p50_ms": round(float(np.percentile(lat, 50)) * 1000, 1),
        "p99_ms": round(float(np.percentile(lat, 99)) * 1000, 1),
        "rss_mb": round(metric(url, headers, "process_resident_memory_bytes") / 2**20, 1),
    }


def source_of(revision: str, into: Path) -> Path:
    """``src/`` of this repository as of ``revision``, written under ``into``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "src"], cwd=REPO, check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def measure(url: str, headers: dict, image: bytes, counts: list[int], args) -> list[dict]:
    """One warm-up, then one load run per client count."""
    run_load(url, headers, image, 1, 3, args.seconds)  # warm-up
    return [run_load(url, headers, image, n, args.requests, args.seconds) for n in counts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="target a running server (loopback only)")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--model", default="tiny-random", help="model of the server started here")
    parser.add_argument("--clients", default="1,4,8", help="comma-separated client counts")
    parser.add_argument("--requests", type=int, default=60, help="answers per client count (bound)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time per client count (bound)")
    parser.add_argument(
        "--image", type=Path, default=None, help="image to post (default: a sample face)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--before", default=None, help="also load a server of this git revision, first"
    )
    parser.add_argument(
        "--engine", choices=("single", "ray"), default="single",
        help="ray: after the single-process service, serve --engine ray with each --replicas",
    )  # fmt: skip
    parser.add_argument("--replicas", default="1", help="comma-separated replica counts (ray)")
    args = parser.parse_args(argv)
    image = bench_image(args.image)
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    counts = [int(c) for c in args.clients.split(",")]
    # (row label, src folder or None for this checkout, extra server flags)
    versions: list[tuple[str, str | None, list[str]]] = [("now", None, [])]
    if args.engine == "ray":
        for n in args.replicas.split(","):  # each replica of both deployments: a core share
            cpus = f"{usable_cores() / (2 * int(n)):g}"
            flags = ["--engine", "ray", "--replicas", n, "--cpus-per-replica", cpus]
            versions.append((f"ray x{n}", None, flags))
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            parser.error(
                "--url must point at 127.0.0.1 / localhost: this benchmark stays on loopback"
            )
        url = args.url.rstrip("/")
        idle_rss = metric(url, headers, "process_resident_memory_bytes") / 2**20
        rows = [{"version": "now", **r} for r in measure(url, headers, image, counts, args)]
    else:
        tmp = Path(tempfile.mkdtemp(prefix="dfdetect-load-"))
        if args.before:
            versions.insert(0, (args.before, str(source_of(args.before, tmp / "before")), []))
        rows = []
        for version, src, flags in versions:
            env = {"DFDETECT_API_KEY": ""}
            if src is not None:
                env["PYTHONPATH"] = os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])
            folder = tmp / version.replace(" ", "-")
            with ServerProcess(["--model", args.model, *flags], folder, env=env) as server:
                url = server.url
                idle_rss = metric(url, headers, "process_resident_memory_bytes") / 2**20
                rows += [
                    {"version": version, **r} for r in measure(url, headers, image, counts, args)
                ]
    table = Table(title=f"dfdetect serve load test ({url}, idle RSS {idle_rss:.0f} MB)")
    for col in (
        "version",
        "clients",
        "ok",
        "errors",
        "requests/s",
        "faces/s",
        "faces/call",
        "p50 ms",
        "p99 ms",
        "RSS MB",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            *(
                str(r[k])
                for k in (
                    "version",
                    "clients",
                    "ok",
                    "errors",
                    "requests_per_s",
                    "faces_per_s",
                    "faces_per_model_call",
                    "p50_ms",
                    "p99_ms",
                    "rss_mb",
                )
            )
        )
    Console(width=140).print(table)
    if args.json:
        args.json.write_text(
            json.dumps({"url": url, "idle_rss_mb": round(idle_rss, 1), "runs": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
