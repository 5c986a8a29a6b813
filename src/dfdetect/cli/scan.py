"""``dfdetect scan PATH...``: verdicts for images, videos, folders and globs.

Exit codes: 0 every file was scanned (fake, real or without faces), 1 some file failed
(unreadable, corrupt, ...), 2 bad arguments or no input, 3 the model could not be loaded.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

EXIT_OK, EXIT_FILES_FAILED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


def default_db() -> Path:
    """``$DFDETECT_SCAN_DB``, else ``$XDG_CACHE_HOME/dfdetect/scan.sqlite`` (~/.cache)."""
    if os.environ.get("DFDETECT_SCAN_DB"):
        return Path(os.environ["DFDETECT_SCAN_DB"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dfdetect" / "scan.sqlite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect scan``."""
    parser.epilog = (
        "exit codes: 0 every file scanned (fake, real or no face), 1 some file failed "
        "(unreadable, corrupt, ...), 2 bad arguments or no input, 3 model not loadable"
    )
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
        help="export results to .jsonl (one file per line) or .csv (one face per row)",
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
        "--frames", type=int, default=32, help="frames sampled per video (default 32)"
    )
    parser.add_argument(
        "--sampling", default="even", help="even | stride | max-spread (default even)"
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="frame stride for --sampling stride"
    )
    parser.add_argument(
        "--seek",
        choices=("exact", "keyframe"),
        default=None,
        help="keyframe: nearby frames that are cheap to decode (default); exact: the sampled "
        "frames themselves, slower on long videos (see docs/scan.md)",
    )
    parser.add_argument(
        "--min-face-size", type=int, default=40, help="smallest face side in pixels (default 40)"
    )
    parser.add_argument(
        "--max-faces", type=int, default=8, help="faces scored per frame, largest first (default 8)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="crops per model call (default 32)"
    )
    parser.add_argument("--workers", type=int, default=2, help="decode/detect threads (default 2)")
    parser.add_argument(
        "--max-file-mb", type=float, default=4096.0, help="refuse larger files (default 4096)"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or table, only the summary"
    )


def run(args: argparse.Namespace) -> int:
    """Scan, store, export, report; returns the exit code."""
    from rich.console import Console

    from dfdetect.errors import DfdetectError
    from dfdetect.scan.export import export_format
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
        options = ScanOptions(
            frames=args.frames, sampling=args.sampling, stride=args.stride,
            **({"seek": args.seek} if args.seek else {}),
            min_face_size=args.min_face_size, max_faces=args.max_faces,
            batch_size=args.batch_size, workers=args.workers, max_file_mb=args.max_file_mb,
            explain=args.report is not None or args.heatmaps is not None,
        )  # fmt: skip
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return EXIT_USAGE
    from dfdetect.scan.session import ScanSession

    with warnings.catch_warnings():
        # tiny-random warns on every model call: once is enough (earlier filters still win)
        warnings.filterwarnings("once", message=".*tiny-random.*", append=True)
        try:
            session = ScanSession.open(
                args.model, options, device=args.device, db=args.db or default_db()
            )
        except DfdetectError as exc:
            err.print(f"[red]error:[/] {exc}", soft_wrap=True)
            return EXIT_MODEL
        with session:
            results = session.run(files, rescan=args.rescan, console=None if args.quiet else err)
            session.export(results, out=args.out, report=args.report, heatmaps=args.heatmaps)
    out = Console()
    if not args.quiet:
        from dfdetect.scan.console import results_table

        out.print(results_table(results))
    from dfdetect.scan.console import summary_line

    err.print(summary_line(results, skipped=session.skipped), soft_wrap=True)
    if args.out is not None:
        err.print(f"results: {args.out}", soft_wrap=True)
    if args.report is not None:
        err.print(f"report: {args.report}", soft_wrap=True)
    return EXIT_FILES_FAILED if any(r.failed for r in results) else EXIT_OK
