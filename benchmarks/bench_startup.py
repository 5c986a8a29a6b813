"""Start-up of ``dfdetect --help`` and of a whole one-image scan (tiny-random model), this code
beside that of an earlier git revision, alternating runs in one process.

The revision's ``src/`` is exported with ``git archive`` and put first on ``PYTHONPATH`` of
its runs. Each row: median wall seconds and peak resident memory of the whole process over
``--repeats`` runs.

    python benchmarks/bench_startup.py --before 807d21c --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_serve import source_of

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "faces"


def one_image(path: Path) -> Path:
    """A 640x480 PNG with a shared sample face (textured noise without the samples)."""
    from dfdetect.media.synthetic import face_image

    samples = sorted(SAMPLES.glob("*/*/*/*.png"))
    if samples:
        return face_image(path, np.asarray(Image.open(samples[0]).convert("RGB")), size=(640, 480))
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    return path


# Runs the command as its child, so that the child's peak memory is its own (a child forked
# from this benchmark would count this process's memory, copied at the fork, as its peak).
LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(code, time.perf_counter() - start, peak / 1024)
"""


def timed(argv: list[str], src: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``python -m dfdetect ARGV`` with ``src`` first."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "dfdetect", *argv],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if out[0] != "0":
        raise RuntimeError(f"dfdetect {' '.join(argv)} failed with {src}")
    return float(out[1]), float(out[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="807d21c", help="git revision to compare against")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    here = str(Path(__file__).resolve().parents[1] / "src")
    rows = []
    with tempfile.TemporaryDirectory(prefix="dfdetect-startup-") as tmp:
        versions = {args.before: str(source_of(args.before, Path(tmp))), "now": here}
        image = one_image(Path(tmp) / "one.png")
        scan = ["scan", str(image), "--model", "tiny-random", "--rescan", "--quiet"]
        cases = {"dfdetect --help": ["--help"], "one-image scan": scan}
        for case, case_argv in cases.items():
            runs: dict[str, list[tuple[float, float]]] = {v: [] for v in versions}
            for k in range(args.repeats + 1):  # the first round warms the file cache
                for version, src in versions.items():
                    extra = ["--db", str(Path(tmp) / f"{version}.sqlite")] if "scan" in case else []
                    result = timed(case_argv + extra, src)
                    if k:
                        runs[version].append(result)
            for version, results in runs.items():
                rows.append(
                    {
                        "case": case,
                        "version": version,
                        "seconds": statistics.median(r[0] for r in results),
                        "peak_rss_mb": statistics.median(r[1] for r in results),
                    }
                )
    table = Table(title=f"start-up, median of {args.repeats} runs each, alternating")
    for column in ("case", "version", "seconds", "peak RSS MB", "vs before"):
        table.add_column(column, justify="left" if column == "case" else "right")
    before = {r["case"]: r["seconds"] for r in rows if r["version"] == args.before}
    for r in rows:
        r["vs_before"] = r["seconds"] / before[r["case"]]
        table.add_row(
            r["case"], r["version"], f"{r['seconds']:.2f}", f"{r['peak_rss_mb']:.0f}",
            f"{r['vs_before']:.2f}x",
        )  # fmt: skip
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
