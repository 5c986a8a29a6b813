"""``dfdetect scan PATH...``: verdicts for images, videos, folders and globs.

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
import warnings
from pathlib import Path

from dfdetect.cli.exits import (
    EXIT_INPUTS_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    check_device,
    check_writable,
    fail,
)


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
    "min_face_size": "min_face_size",
    "max_faces": "max_faces",
    "batch_size": "batch_size",
    "workers": "workers",
    "max_file_mb": "max_file_mb",
    "file_timeout": "file_timeout_s",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect scan``."""
    from dfdetect.scan.options import ScanOptions

    d = ScanOptions()
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="images, videos, folders (recursive) or glob patterns",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="Hub id, local folder or 'tiny-random' (default: yermandy/GenD_CLIP_L_14)",
    )
    parser.add_argument(
        "--device", default=None, help="torch device (default: CUDA when present, else CPU)"
    )
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
    parser.add_argument("--frames", type=int, help=f"frames sampled per video (default {d.frames})")
    parser.add_argument("--sampling", help=f"even | stride | max-spread (default {d.sampling})")
    parser.add_argument("--stride", type=int, help="frame stride for --sampling stride")
    parser.add_argument(
        "--min-face-size",
        type=int,
        help=f"smallest face side in pixels (default {d.min_face_size})",
    )
    parser.add_argument(
        "--max-faces",
        type=int,
        help=f"faces scored per frame, largest first (default {d.max_faces})",
    )
    parser.add_argument(
        "--batch-size", type=int, help=f"crops per model call (default {d.batch_size})"
    )
    parser.add_argument("--workers", type=int, help=f"decode/detect threads (default {d.workers})")
    parser.add_argument(
        "--max-file-mb", type=float, help=f"refuse larger files (default {d.max_file_mb:g})"
    )
    parser.add_argument(
        "--file-timeout",
        type=float,
        metavar="SECONDS",
        help="give up on a file after SECONDS of decoding and face detection (reason "
        "'timeout'; default: no limit)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or table, only the summary"
    )


def run(args: argparse.Namespace) -> int:
    """Check, scan, store and write results as files finish, then report; returns the exit
    code."""
    from rich.console import Console

    from dfdetect.errors import DfdetectError
    from dfdetect.scan.export import ResultWriter, export_format
    from dfdetect.scan.options import ScanOptions
    from dfdetect.scan.walk import expand_inputs

    err = Console(stderr=True)
    files, missing = expand_inputs(args.paths)
    for m in missing:
        err.print(f"[yellow]no such file or no match:[/] {m}", soft_wrap=True)
    if not files:
        err.print("[red]error:[/] no input files")
        return EXIT_USAGE
    try:
        if args.out is not None:
            export_format(args.out)
        given = {field: getattr(args, flag) for flag, field in OPTION_FLAGS.items()}
        options = ScanOptions(
            **{k: v for k, v in given.items() if v is not None},
            explain=args.report is not None or args.heatmaps is not None,
        )
        for path in (args.out, args.report, args.summary, args.db or default_db()):
            if path is not None:
                check_writable(path)
        if args.heatmaps is not None:
            check_writable(args.heatmaps, folder=True)
        check_device(args.device)
    except (ValueError, DfdetectError) as exc:
        return fail("scan", exc)
    from dfdetect.scan.session import ScanSession

    with warnings.catch_warnings():
        # tiny-random warns on every model call: once is enough (earlier filters still win)
        warnings.filterwarnings("once", message=".*tiny-random.*", append=True)
        try:
            session = ScanSession.open(
                args.model, options, device=args.device, db=args.db or default_db()
            )
        except (DfdetectError, OSError, sqlite3.Error) as exc:
            return fail("scan", exc)
        writer = None
        with session:
            try:
                writer = ResultWriter(args.out) if args.out is not None else None
                results = session.run(
                    files,
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
    if not args.quiet:
        from dfdetect.scan.console import results_table

        Console().print(results_table(results))
    from dfdetect.scan.console import scan_summary, summary_line

    err.print(summary_line(results, skipped=session.skipped), soft_wrap=True)
    code = EXIT_INPUTS_FAILED if any(r.failed for r in results) else EXIT_OK
    for label, path in (("results", args.out), ("report", args.report)):
        if path is not None:
            err.print(f"{label}: {path}", soft_wrap=True)
    if args.summary is not None:
        from dfdetect.atomic import write_text_atomic

        summary = {**scan_summary(results, session.skipped), "exit_code": code}
        summary |= {"model": session.model, "out": args.out and str(args.out)}
        try:
            write_text_atomic(args.summary, json.dumps(summary, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            return fail("scan", exc)
    return code


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
