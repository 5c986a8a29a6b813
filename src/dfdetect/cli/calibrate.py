"""``dfdetect calibrate --model M --data D [--out M2]``: fit the temperature and/or the decision
threshold at a target FPR on validation data, and store them in the checkpoint's config
(in place when ``--out`` is omitted), so every later prediction and scan uses them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dfdetect.cli.evaluate import (
    add_data_arguments,
    data_entries,
    dropped_error,
    load_detector,
    scoring_flags,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect calibrate``."""
    add_data_arguments(parser, "val")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the calibrated checkpoint here (default: update --model in place)",
    )
    parser.add_argument(
        "--method",
        choices=("both", "temperature", "threshold"),
        default="both",
        help="what to fit (default: both; the threshold is fitted after the temperature)",
    )
    parser.add_argument("--target-fpr", type=float, default=0.05, help="default 0.05 (5%%)")
    parser.add_argument(
        "--level",
        choices=("frame", "video"),
        default="frame",
        help="FPR over real faces (frame) or real videos (mean frame score)",
    )


def run(args: argparse.Namespace) -> int:
    """Calibrate and save; prints what changed."""
    from dfdetect.cli.exits import error, fail
    from dfdetect.errors import DfdetectError
    from dfdetect.evaluate.calibration import small_sample_warning
    from dfdetect.evaluate.runner import score_entries

    if args.out is None and not (Path(args.model) / "config.json").is_file():
        error("calibrate", f"{args.model} is not a local checkpoint folder: pass --out")
        return 2
    if not 0.0 <= args.target_fpr < 1.0:
        error("calibrate", "--target-fpr must be in [0, 1)")
        return 2
    try:
        entries = data_entries(args)
        detector = load_detector(args)
        data = score_entries(detector, entries, progress=not args.quiet, **scoring_flags(args))
    except (DfdetectError, OSError) as exc:  # exit 3 when the model cannot load
        return fail("calibrate", exc)
    frames, errors = data.frames, data.errors
    for name, message in errors.items():
        error("calibrate", f"{name}: {message}")
    for accounting in data.accounting:
        print(accounting.line())
    dropped = dropped_error("calibrate", data.accounting, args.allow_missing)
    if frames.empty or frames["label"].nunique() < 2:
        error("calibrate", "calibration needs scored real and fake faces")
        return 2
    videos = frames.groupby(["dataset", "source", "video"])["label"].first()
    warning = small_sample_warning(
        int((videos == 0).sum()), int((videos == 1).sum()), args.target_fpr
    )
    if warning:
        print(f"dfdetect calibrate: warning: {warning}", file=sys.stderr)
    config = detector.config
    summary, fpr = fit_calibration(detector, frames, args)
    before = summary["before"]
    out = args.out or Path(args.model)
    detector.save_pretrained(out)
    summary |= {
        "target_fpr": args.target_fpr if fpr is not None else None,
        "fpr_at_threshold": fpr,
        "level": args.level,
        "frames": len(frames),
        "data": args.data,
        "accounting": [a.to_dict() for a in data.accounting],
        "warning": warning,
    }
    (out / "calibration.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"temperature {before['temperature']:.4g} -> {config.temperature:.4g}, "
        f"threshold {before['threshold']:.4g} -> {config.threshold:.4g}"
        + (f" ({args.level} FPR {fpr:.2%} <= {args.target_fpr:.2%})" if fpr is not None else "")
    )
    print(f"NLL {summary['nll_before']:.4f} -> {summary['nll_after']:.4f}; saved to {out}")
    return 1 if errors or dropped else 0


def fit_calibration(detector, frames, args: argparse.Namespace) -> tuple[dict, float | None]:
    """Fit what ``--method`` names into ``detector.config`` from the scored ``frames``; returns
    the summary's before/after/NLL part and the FPR at the new threshold (None if not fitted)."""
    import torch

    from dfdetect.evaluate.calibration import fit_temperature, fit_threshold, nll

    config = detector.config
    logits = frames[["logit_real", "logit_fake"]].to_numpy()
    labels = frames["label"].to_numpy()
    before = {"temperature": config.temperature, "threshold": config.threshold}
    nll_before = nll(logits, labels, config.temperature)
    if args.method in ("both", "temperature"):
        config.temperature = fit_temperature(logits, labels)
    fpr = None
    if args.method in ("both", "threshold"):
        probs = detector.probabilities(torch.from_numpy(logits).float()).numpy()
        videos = (frames["dataset"] + "/" + frames["source"] + "/" + frames["video"]).to_numpy()
        config.threshold, fpr = fit_threshold(probs, labels, videos, args.target_fpr, args.level)
    summary = {
        "before": before,
        "after": {"temperature": config.temperature, "threshold": config.threshold},
        "nll_before": nll_before,
        "nll_after": nll(logits, labels, config.temperature),
    }
    return summary, fpr
