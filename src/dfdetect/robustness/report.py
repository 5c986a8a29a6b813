"""The robustness report: JSON, long CSV and Markdown tables (every cell with its drop against
clean), and plots of AUROC against level, one per perturbation type, all models in each."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dfdetect.data.accounting import Accounting, accounting_markdown, accounting_rows
from dfdetect.evaluate.metrics import METRICS
from dfdetect.evaluate.summary import LEVELS
from dfdetect.evaluate.tables import TITLES, metric_cell
from dfdetect.robustness.perturbations import PERTURBATIONS

SHOWN = ("auroc", "ap", "eer", "accuracy")  # the metrics of the Markdown tables


def _value(row: dict[str, Any], level: str, metric: str) -> float:
    part = row.get(level)
    return float(part[metric]["value"]) if part else math.nan


def _clean(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r["dataset"]): r for r in rows if r["perturbation"] == "clean"}


def long_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, dataset, cell, level, metric) with its CI and drop against clean."""
    clean = _clean(rows)
    out = []
    for r in rows:
        base = clean.get((r["model"], r["dataset"]))
        for level in LEVELS:
            for metric in METRICS:
                m = (r.get(level) or {}).get(metric, {"value": math.nan, "ci": [math.nan] * 2})
                ref = _value(base, level, metric) if base else math.nan
                out.append(
                    {
                        **{k: r[k] for k in ("model", "dataset", "stage", "perturbation", "level")},
                        "param": r["param"],
                        "metric_level": level,
                        "metric": metric,
                        "value": m["value"],
                        "ci_low": m["ci"][0],
                        "ci_high": m["ci"][1],
                        "drop": ref - m["value"],
                        "n_frames": r["n_frames"],
                        "n_videos": r["n_videos"],
                        "faces_found": r["faces_found"],
                        "faces_lost": r["faces_lost"],
                    }
                )
    return out


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:+.1f}"


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Per dataset and level: every (model, cell) with AUROC, AP, EER, accuracy [95 % CI] and
    the AUROC change against clean (points), plus faces lost in the frames stage."""
    clean = _clean(rows)
    frames_stage = any(r["faces_lost"] is not None for r in rows)
    parts = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        for level in ("video", "frame"):
            head = ["model", "perturbation", "level", "parameter", "videos"]
            head += [TITLES[m] for m in SHOWN] + ["ΔAUROC"]
            head += ["faces lost"] if frames_stage else []
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for r in (r for r in rows if r["dataset"] == dataset):
                part = r.get(level)
                cells = [metric_cell(part[m]) if part else "-" for m in SHOWN]
                base = clean.get((r["model"], r["dataset"]))
                drop = (
                    _value(base, level, "auroc") - _value(r, level, "auroc") if base else math.nan
                )
                line = [r["model"], r["perturbation"], str(r["level"] or ""), r["param"]]
                line += [str(r["n_videos"]), *cells, "" if r["level"] == 0 else _pct(0.0 - drop)]
                line += [str(r["faces_lost"] if r["level"] else "")] if frames_stage else []
                lines.append("| " + " | ".join(line) + " |")
            parts.append(f"## {dataset}, {level} level\n\n" + "\n".join(lines))
    note = (
        "Values in %, 95 % bootstrap CI over videos in brackets; accuracy at the model's "
        "threshold; ΔAUROC: change in points "
        "against the same model's clean cell (the CSV's `drop` is its negative, as a fraction)."
    )
    return "# Robustness\n\n" + "\n\n".join(parts) + f"\n\n{note}\n" + _undefined_notes(rows)


def _mean_pct(values: Sequence[float]) -> str:
    """The mean of the defined values in %, ``-`` when none is defined."""
    finite = [v for v in values if math.isfinite(v)]
    return f"{100 * sum(finite) / len(finite):.1f}" if finite else "-"


def summary_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Video AUROC (%) per model and dataset: clean, then the mean over levels of each type
    (over the levels where it is defined; ``-`` where it is nowhere defined)."""
    codes = list(dict.fromkeys(r["perturbation"] for r in rows if r["level"]))
    head = ["model", "dataset", "clean", *codes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (model, dataset), base in _clean(rows).items():
        mine = [r for r in rows if r["model"] == model and r["dataset"] == dataset]
        cells = [_mean_pct([_value(base, "video", "auroc")])]
        for code in codes:
            cells.append(
                _mean_pct([_value(r, "video", "auroc") for r in mine if r["perturbation"] == code])
            )
        lines.append("| " + " | ".join([model, dataset, *cells]) + " |")
    return "\n".join(lines) + "\n" + _undefined_notes(rows)


def _undefined_notes(rows: Sequence[dict[str, Any]]) -> str:
    """Why a dataset's clean cell has no AUROC, AP, EER (one class, or no crop scored)."""
    notes = [
        f"{dataset}: AUROC, AP and EER undefined: {base.get('undefined') or 'no crop scored'}"
        for (_, dataset), base in _clean(rows).items()
        if base.get("undefined") or not base.get("video")
    ]
    return "".join(f"\n{n}\n" for n in dict.fromkeys(notes))


def write_report(
    rows: Sequence[dict[str, Any]],
    out: Path,
    settings: dict[str, Any],
    accounting: Sequence[Accounting] = (),
) -> None:
    """robustness.{json,csv,md}, summary.md, data.csv (the accounting) and the plots under
    ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = [a.to_dict() for a in accounting]
    payload = {"settings": settings, "data": data, "cells": list(rows)}
    (out / "robustness.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    pd.DataFrame(long_rows(rows)).to_csv(out / "robustness.csv", index=False)
    pd.DataFrame(accounting_rows(accounting)).to_csv(out / "data.csv", index=False)
    data_md = f"\n{accounting_markdown(accounting)}" if accounting else ""
    (out / "robustness.md").write_text(markdown(rows) + data_md)
    (out / "summary.md").write_text(summary_markdown(rows))
    write_plots(rows, out / "plots")


def _axes_plot(ax, rows: Sequence[dict[str, Any]], code: str) -> None:
    clean = _clean(rows)
    p = PERTURBATIONS[code]
    for (model, dataset), base in clean.items():
        cells = sorted(
            (
                r
                for r in rows
                if (r["model"], r["dataset"], r["perturbation"]) == (model, dataset, code)
            ),
            key=lambda r: r["level"],
        )
        if not cells:
            continue
        series = [base, *cells]
        x = [r["level"] for r in series]
        y = [_value(r, "video", "auroc") for r in series]
        lo = [r["video"]["auroc"]["ci"][0] if r.get("video") else math.nan for r in series]
        hi = [r["video"]["auroc"]["ci"][1] if r.get("video") else math.nan for r in series]
        label = model if len({d for _, d in clean}) == 1 else f"{model} ({dataset})"
        (line,) = ax.plot(x, y, marker="o", label=label)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
    levels = sorted({r["level"] for r in rows if r["perturbation"] == code})
    ax.set_xticks([0, *levels], ["clean", *(f"{v}\n{p.param(v):g}" for v in levels)])
    ax.set(title=f"{code}: {p.title} ({p.unit})", ylabel="video AUROC", ylim=(0.0, 1.02))
    ax.axhline(0.5, color="k", lw=0.6, ls=":")


def write_plots(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """``auroc_<TYPE>.png`` per type and ``auroc_vs_level.png`` with every type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("auroc_*.png"):  # from an earlier run over other types
        stale.unlink()
    codes = list(dict.fromkeys(r["perturbation"] for r in rows if r["level"]))
    written = []
    for code in codes:
        fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
        _axes_plot(ax, rows, code)
        ax.legend(loc="lower left", fontsize="small")
        fig.tight_layout()
        fig.savefig(out / f"auroc_{code}.png")
        plt.close(fig)
        written.append(out / f"auroc_{code}.png")
    if codes:
        ncols = min(4, len(codes))
        nrows = math.ceil(len(codes) / ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.4 * ncols, 2.9 * nrows), dpi=80, squeeze=False
        )
        for ax, code in zip(axes.flat, codes, strict=False):
            _axes_plot(ax, rows, code)
        for ax in list(axes.flat)[len(codes) :]:
            ax.axis("off")
        axes.flat[0].legend(loc="lower left", fontsize="small")
        fig.tight_layout()
        fig.savefig(out / "auroc_vs_level.png")
        plt.close(fig)
        written.append(out / "auroc_vs_level.png")
    return written
