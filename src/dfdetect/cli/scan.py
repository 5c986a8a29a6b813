"""``dfdetect scan PATH...``: verdicts for images, videos, folders, globs and file lists, in
this process or (``--engine ray``) on a Ray cluster.

Exit codes (:mod:`dfdetect.cli.exits`): 0 every file was scanned (fake, real or without
faces), 1 some file failed, 2 bad arguments or no input, 3 the model could not be loaded,
4 an output, the database or the device is unusable (checked before the first file), or the
disk filled up.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import warnings
from pathlib import Path

from dfdetect.cli.exits import (
    EXIT_INPUTS_FAILED,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    check_writable,
    fail,
    terminal_output,
)
from dfdetect.cli.faces import add_face_arguments, add_runtime_argument
from dfdetect.cli.flags import ENGINES, given
from dfdetect.terminal import printable


def default_db() -> Path:
    """``$DFDETECT_SCAN_DB``, else ``$XDG_CACHE_HOME/dfdetect/scan.sqlite`` (~/.cache)."""
    if os.environ.get("DFDETECT_SCAN_DB"):
        return Path(os.environ["DFDETECT_SCAN_DB"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dfdetect" / "scan.sqlite"


# flag -> ScanOptions field; the defaults live in ScanOptions only (flags default to None)
OPTION_FLAGS = {
    "frames": "frames",
    "sampling": "sampling",
    "stride": "stride",
    "seek": "seek",
    "min_face_size": "min_face_size",
    "max_faces": "max_faces",
    "batch_size": "batch_size",
    "workers": "workers",
    "max_file_mb": "max_file_mb",
    "max_pixels": "max_pixels",
    "file_timeout": "file_timeout_s",
}
CLUSTER_FLAGS = {"ray_address": "address", "model_workers": "model_workers"}  # -> ClusterOptions
CLUSTER_FLAGS |= {f: f for f in ("gpus_per_model_worker", "model_cpus", "prepare_cpus")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect scan``."""
    add_face_arguments(parser)
    add_runtime_argument(parser)
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="images, videos, folders (recursive), glob patterns, @LIST text files of those; "
        "with --engine ray also URLs (s3://, gs://, file://, ...)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="Hub id, local folder or 'tiny-random' (default: yermandy/GenD_CLIP_L_14)",
    )
    parser.add_argument(
        "--device", default=None, help="torch device (default: CUDA when present, else CPU)"
    )
    _add_output_arguments(parser)
    _add_sampling_arguments(parser)
    _add_limit_arguments(parser)
    _add_ray_arguments(parser)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Where results go: files, the results database, the terminal."""
    parser.add_argument(
        "--out",
        type=Path,
        help="write results to .jsonl (one file per line) or .csv (one face per row) as each "
        "file finishes",
    )
    parser.add_argument(
        "--summary", type=Path, metavar="PATH", help="write the scan's counts as JSON to PATH"
    )
    parser.add_argument(
        "--report", type=Path, help="write a self-contained HTML report (computes heatmaps)"
    )
    parser.add_argument(
        "--heatmaps", type=Path, metavar="DIR", help="save per-person heatmap PNGs into DIR"
    )
    parser.add_argument(
        "--db", type=Path, default=None, help=f"results database (default: {default_db()})"
    )
    parser.add_argument(
        "--rescan", action="store_true", help="ignore results stored by earlier scans"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or table, only the summary"
    )


def _add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """How frames are sampled and faces found (defaults: ``SCAN_SAMPLING``)."""
    from dfdetect.faces.sampling import SCAN_SAMPLING as d

    parser.add_argument(
        "--frames",
        type=int,
        help=f"frames sampled per video (default: the model's face pipeline, else {d.frames})",
    )
    parser.add_argument(
        "--sampling",
        help=f"even | stride | max-spread (default: the model's face pipeline, else {d.sampling})",
    )
    parser.add_argument("--stride", type=int, help="frame stride for --sampling stride")
    parser.add_argument(
        "--min-face-size",
        type=int,
        help=f"smallest face side in pixels (default {d.min_face_size})",
    )
    parser.add_argument(
        "--max-faces",
        type=int,
        metavar="N",
        help="score only the N largest faces of each frame; the others are counted as "
        "faces_skipped in the results, the table and --summary (default: every face)",
    )
    parser.add_argument(
        "--seek",
        choices=("exact", "keyframe"),
        default=None,
        help=f"keyframe: nearby frames that are cheap to decode; exact: the sampled frames "
        f"themselves, slower on long videos (default: {d.seek}; see docs/scan.md)",
    )


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """Batching, threads and the bounds on each file."""
    from dfdetect.scan.options import ScanOptions

    d = ScanOptions()
    parser.add_argument(
        "--batch-size", type=int, help=f"crops per model call (default {d.batch_size})"
    )
    parser.add_argument("--workers", type=int, help=f"decode/detect threads (default {d.workers})")
    parser.add_argument(
        "--max-file-mb", type=float, help=f"refuse larger files (default {d.max_file_mb:g})"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help="pixels a decoded image or frame may hold: a larger JPEG is decoded at reduced "
        "scale, anything else larger is refused as too_many_pixels (default "
        f"{d.max_pixels:_}; see docs/scan.md)",
    )
    parser.add_argument(
        "--file-timeout",
        type=float,
        metavar="SECONDS",
        help="give up on a file after SECONDS of decoding and face detection (reason "
        "'timeout'; default: no limit)",
    )


def _add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine ray`` and the shape of the Ray job."""
    ray = parser.add_argument_group(
        "Ray engine", "--engine ray: stages on Ray Data; --out (.parquet, .jsonl or .csv) "
        "holds the results and is what a re-run resumes from (no --db, --report, --heatmaps)"
    )  # fmt: skip
    ray.add_argument(
        "--engine", choices=ENGINES, default=None, help="single (default): this process; ray"
    )
    ray.add_argument(
        "--ray-address",
        default=None,
        help="'auto' (the cluster this machine is in) or ray://HOST:PORT (default: a local Ray)",
    )
    ray.add_argument(
        "--model-workers", type=int, default=None, help="model actors (default: one per GPU, or 1)"
    )
    ray.add_argument(
        "--gpus-per-model-worker",
        type=float,
        default=None,
        help="GPUs per model actor (default: 1 when the cluster has GPUs, else 0)",
    )
    ray.add_argument("--model-cpus", type=float, default=None, help="CPUs per model actor (1)")
    ray.add_argument(
        "--prepare-cpus", type=float, default=None, help="CPUs per decode/detect task (1)"
    )


def scan_options(args: argparse.Namespace):
    """The :class:`~dfdetect.scan.ScanOptions` the flags ask for (ValueError when invalid)."""
    from dfdetect.scan.options import ScanOptions

    return ScanOptions(  # flags not given (None) keep ScanOptions' defaults or the model's
        **given(args, OPTION_FLAGS), explain=args.report is not None or args.heatmaps is not None
    )


def run(args: argparse.Namespace) -> int:
    """Check, scan, store and write results as files finish, then report; returns the exit
    code."""
    from rich.console import Console

    from dfdetect.errors import DfdetectError
    from dfdetect.scan.walk import expand_inputs
    from dfdetect.scan.writers import ResultWriter, output_format

    err = Console(stderr=True)
    if args.engine == "ray":
        return run_ray(args, err)
    files, missing = expand_inputs(args.paths)
    if not files and not missing:
        return fail("scan", ValueError("no input files (the @LIST files are empty)"))
    say_missing(err, missing, urls_here=False)
    try:
        if args.out is not None:
            output_format(args.out)
        model_sampling = args.frames is None and args.sampling is None and args.stride is None
        options = scan_options(args)
        for path in (args.out, args.report, args.summary, args.db or default_db()):
            if path is not None:
                check_writable(path)
        if args.heatmaps is not None:
            check_writable(args.heatmaps, folder=True)
        from dfdetect.model.device import check_device

        check_device(args.device)
    except (ValueError, DfdetectError) as exc:
        return fail("scan", exc)
    from dfdetect.scan.session import ScanSession

    with warnings.catch_warnings():
        # tiny-random warns on every model call: once is enough (earlier filters still win)
        warnings.filterwarnings("once", message=".*tiny-random.*", append=True)
        try:
            session = ScanSession.open(
                args.model,
                options,
                device=args.device,
                db=args.db or default_db(),
                face_detector=args.face_detector,
                scrfd_model=args.scrfd_model,
                model_sampling=model_sampling,
                runtime=args.runtime,
            )
        except (DfdetectError, OSError, sqlite3.Error) as exc:
            return fail("scan", exc)
        writer = None
        with session:
            try:
                writer = ResultWriter(args.out) if args.out is not None else None
                results = session.run(
                    files,
                    missing=missing,
                    rescan=args.rescan,
                    console=None if args.quiet else err,
                    on_result=writer.write if writer is not None else None,
                )
                if writer is not None:
                    writer.close()
                write_visuals(session, results, report=args.report, heatmaps=args.heatmaps)
            except (OSError, sqlite3.Error) as exc:  # a full disk: one line, no temp files
                return fail("scan", exc)
            finally:
                if writer is not None:
                    writer.close()
    return report_scan(args, err, session, results)


def report_scan(args: argparse.Namespace, err, session, results) -> int:
    """``--summary``, the results table and the summary line of a finished local scan; returns
    the exit code."""
    from rich.console import Console

    from dfdetect.scan.console import scan_summary, summary_line

    code = EXIT_INPUTS_FAILED if any(r.failed for r in results) else EXIT_OK
    if args.summary is not None:  # before the terminal, which may be gone
        from dfdetect.atomic import write_text_atomic

        summary = {**scan_summary(results, session.skipped), "exit_code": code}
        summary |= {"model": session.model, "out": args.out and str(args.out)}
        try:
            write_text_atomic(args.summary, json.dumps(summary, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            return fail("scan", exc)
    with terminal_output():
        if not args.quiet:
            from dfdetect.scan.console import results_table

            Console().print(results_table(results))
        err.print(summary_line(results, skipped=session.skipped), soft_wrap=True, markup=False)
        for label, path in (("results", args.out), ("report", args.report)):
            if path is not None:
                err.print(f"{label}: {printable(str(path))}", soft_wrap=True, markup=False)
    return code


def refuse(message: str, code: int) -> int:
    """Print ``dfdetect scan: error: MESSAGE`` on stderr; return ``code``."""
    print(f"dfdetect scan: error: {printable(message)}", file=sys.stderr)
    return code


def say_missing(err, missing: list[str], *, urls_here: bool) -> None:
    """One stderr line per input that named no file (each is also a ``not_found`` result)."""
    for entry in missing:
        hint = " (URLs are read by --engine ray)" if "://" in entry and not urls_here else ""
        err.print(
            f"not found: {printable(entry)}{hint}", style="yellow", soft_wrap=True, markup=False
        )


def write_visuals(session, results, *, report: Path | None, heatmaps: Path | None) -> None:
    """``--report`` (HTML) and ``--heatmaps`` (PNGs) from the images stored with the results."""
    if report is None and heatmaps is None:
        return
    entries = [(r, session.visuals(r)) for r in results]
    if report is not None:
        from dfdetect.report import write_report

        write_report(entries, report, model=session.model)
    if heatmaps is not None:
        from dfdetect.scan.visuals import save_heatmaps

        for result, images in entries:
            save_heatmaps(images, heatmaps / session.image_stem(result))


def run_ray(args: argparse.Namespace, err) -> int:
    """``--engine ray``: scan on Ray into ``--out``; returns the exit code."""
    from rich.console import Console

    from dfdetect.errors import DfdetectError
    from dfdetect.model import DEFAULT_MODEL
    from dfdetect.scan.cluster.options import ClusterOptions
    from dfdetect.scan.cluster.output import OutputError
    from dfdetect.scan.cluster.sources import expand_sources
    from dfdetect.scan.writers import output_format

    unsupported = [f for f in ("db", "report", "heatmaps") if getattr(args, f) is not None]
    unsupported += ["rescan"] if args.rescan else []
    problem = None
    if args.out is None:
        problem = "--engine ray needs --out (.parquet, .jsonl or .csv): it holds the results"
    elif unsupported:
        names = ", ".join("--" + f for f in unsupported)
        problem = f"{names}: not available with --engine ray (the --out file is the store)"
    if problem is None:
        try:
            output_format(args.out, "ray")
            options = scan_options(args)
            cluster = ClusterOptions(**given(args, CLUSTER_FLAGS))
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        return refuse(problem, EXIT_USAGE)
    try:
        from dfdetect.scan.cluster.engine import ClusterError, scan_on_ray
    except ImportError as exc:
        return refuse(str(exc), EXIT_USAGE)
    sources, missing = expand_sources(args.paths)
    if not sources and not missing:
        return fail("scan", ValueError("no input files (the @LIST files are empty)"))
    say_missing(err, missing, urls_here=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("once", message=".*tiny-random.*", append=True)
        try:
            report = scan_on_ray(
                sources, args.out, missing=missing, model=args.model or DEFAULT_MODEL,
                options=options,
                cluster=cluster, device=args.device, console=None if args.quiet else err,
                face_detector=args.face_detector, scrfd_model=args.scrfd_model,
                runtime=args.runtime,
            )  # fmt: skip
        except OutputError as exc:
            return refuse(str(exc), EXIT_USAGE)
        except ClusterError as exc:
            return refuse(str(exc), EXIT_INPUTS_FAILED)
        except DfdetectError as exc:
            return refuse(str(exc), EXIT_MODEL)
    with terminal_output():
        if not args.quiet:
            from dfdetect.scan.console import results_table

            table = results_table(report.first)
            if report.written > len(report.first):
                table.caption = f"first {len(report.first)} of {report.written} new results"
            Console().print(table)
        err.print(report.tally.line(skipped=report.skipped), soft_wrap=True, markup=False)
        err.print(
            f"{report.written} results written; {report.total} files in {report.seconds:.1f} s "
            f"({report.files_per_s:.2f} files/s); results: {printable(str(args.out))}",
            soft_wrap=True,
            markup=False,
        )
    return EXIT_INPUTS_FAILED if report.failed else EXIT_OK
