"""``dfdetect scan PATH...``: verdicts for images, videos, folders, globs and file lists, in
this process or (``--engine ray``) on a Ray cluster.

Exit codes: 0 every file was scanned (fake, real or without faces), 1 some file failed
(unreadable, corrupt, ...), 2 bad arguments or no input, 3 the model could not be loaded.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

from dfdetect.cli.faces import add_face_arguments, add_runtime_argument

EXIT_OK, EXIT_FILES_FAILED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3
ENGINES = ("single", "ray")


def default_db() -> Path:
    """``$DFDETECT_SCAN_DB``, else ``$XDG_CACHE_HOME/dfdetect/scan.sqlite`` (~/.cache)."""
    if os.environ.get("DFDETECT_SCAN_DB"):
        return Path(os.environ["DFDETECT_SCAN_DB"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dfdetect" / "scan.sqlite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect scan``."""
    add_face_arguments(parser)
    add_runtime_argument(parser)
    parser.epilog = (
        "exit codes: 0 every file scanned (fake, real or no face), 1 some file failed "
        "(unreadable, corrupt, ...), 2 bad arguments or no input, 3 model not loadable"
    )
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
        "--frames",
        type=int,
        default=None,
        help="frames sampled per video (default: the model's face pipeline, e.g. 32)",
    )
    parser.add_argument(
        "--sampling",
        default=None,
        help="even | stride | max-spread (default: the model's face pipeline)",
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="frame stride for --sampling stride"
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

    sampling = {"frames": args.frames, "sampling": args.sampling}  # None: the model's
    return ScanOptions(
        **{k: v for k, v in sampling.items() if v is not None}, stride=args.stride,
        min_face_size=args.min_face_size, max_faces=args.max_faces,
        batch_size=args.batch_size, workers=args.workers, max_file_mb=args.max_file_mb,
        explain=args.report is not None or args.heatmaps is not None,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Scan, store, export, report; returns the exit code."""
    from rich.console import Console

    from dfdetect.errors import DfdetectError
    from dfdetect.scan.export import export_format
    from dfdetect.scan.walk import expand_inputs

    err = Console(stderr=True)
    if args.engine == "ray":
        return run_ray(args, err)
    files, missing = expand_inputs(args.paths)
    for m in missing:
        hint = " (URLs are read by --engine ray)" if "://" in m else ""
        err.print(f"[yellow]no such file or no match:[/] {m}{hint}", soft_wrap=True)
    if not files:
        err.print("[red]error:[/] no input files")
        return EXIT_USAGE
    try:
        if args.out is not None:
            export_format(args.out)
        model_sampling = args.frames is None and args.sampling is None and args.stride is None
        options = scan_options(args)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return EXIT_USAGE
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


def run_ray(args: argparse.Namespace, err) -> int:
    """``--engine ray``: scan on Ray into ``--out``; returns the exit code."""
    from rich.console import Console
    from rich.markup import escape

    from dfdetect.errors import DfdetectError
    from dfdetect.model import DEFAULT_MODEL
    from dfdetect.scan.cluster.options import ClusterOptions
    from dfdetect.scan.cluster.output import OutputError, out_format
    from dfdetect.scan.cluster.sources import expand_sources

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
            out_format(args.out)
            options = scan_options(args)
            flags = {
                "address": args.ray_address,
                "model_workers": args.model_workers,
                "gpus_per_model_worker": args.gpus_per_model_worker,
                "model_cpus": args.model_cpus,
                "prepare_cpus": args.prepare_cpus,
            }
            cluster = ClusterOptions(**{k: v for k, v in flags.items() if v is not None})
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        err.print(f"[red]error:[/] {escape(problem)}", soft_wrap=True)
        return EXIT_USAGE
    try:
        from dfdetect.scan.cluster.engine import ClusterError, scan_on_ray
    except ImportError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    sources, missing = expand_sources(args.paths)
    for m in missing:
        err.print(f"[yellow]no such file or no match:[/] {escape(m)}", soft_wrap=True)
    if not sources:
        err.print("[red]error:[/] no input files")
        return EXIT_USAGE
    with warnings.catch_warnings():
        warnings.filterwarnings("once", message=".*tiny-random.*", append=True)
        try:
            report = scan_on_ray(
                sources, args.out, model=args.model or DEFAULT_MODEL, options=options,
                cluster=cluster, device=args.device, console=None if args.quiet else err,
                face_detector=args.face_detector, scrfd_model=args.scrfd_model,
            )  # fmt: skip
        except OutputError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            return EXIT_USAGE
        except ClusterError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            return EXIT_FILES_FAILED
        except DfdetectError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            return EXIT_MODEL
    if not args.quiet:
        from dfdetect.scan.console import results_table

        table = results_table(report.first)
        if report.written > len(report.first):
            table.caption = f"first {len(report.first)} of {report.written} new results"
        Console().print(table)
    err.print(report.tally.line(skipped=report.skipped), soft_wrap=True)
    err.print(
        f"{report.written} results written; {report.total} files in {report.seconds:.1f} s "
        f"({report.files_per_s:.2f} files/s); results: {args.out}",
        soft_wrap=True,
    )
    return EXIT_FILES_FAILED if report.failed else EXIT_OK
