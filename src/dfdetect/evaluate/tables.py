"""The evaluation report written out: JSON, long and wide CSV, Markdown tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dfdetect.data.accounting import Accounting, accounting_markdown, accounting_rows
from dfdetect.evaluate.metrics import METRICS, TWO_CLASS
from dfdetect.evaluate.summary import LEVELS

TITLES = {
    "auroc": "AUROC",
    "ap": "AP",
    "eer": "EER",
    "accuracy": "Acc",
    "balanced_accuracy": "BAcc",
    "tpr_at_fpr_1": "TPR@1%FPR",
    "tpr_at_fpr_5": "TPR@5%FPR",
}


def long_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (dataset, subset, level, metric): subset is ``all`` or a source name."""
    rows = []
    for dataset, entry in report["datasets"].items():
        for subset, part in [("all", entry), *entry["sources"].items()]:
            for level in LEVELS:
                for metric in METRICS:
                    m = part[level][metric]
                    rows.append(
                        {
                            "dataset": dataset,
                            "subset": subset,
                            "level": level,
                            "metric": metric,
                            "value": m["value"],
                            "ci_low": m["ci"][0],
                            "ci_high": m["ci"][1],
                            "n_videos": part["n_videos"],
                            "n_frames": part["n_frames"],
                        }
                    )
    return rows


def cross_dataset_frame(report: dict[str, Any]) -> pd.DataFrame:
    """Wide table: one row per dataset, ``<level>_<metric>`` (+ ``_low``/``_high``) columns."""
    rows = []
    for dataset, entry in report["datasets"].items():
        row: dict[str, Any] = {"dataset": dataset, "videos": entry["n_videos"]}
        for level in LEVELS:
            for metric in METRICS:
                m = entry[level][metric]
                row[f"{level}_{metric}"] = m["value"]
                row[f"{level}_{metric}_low"], row[f"{level}_{metric}_high"] = m["ci"]
        rows.append(row)
    return pd.DataFrame(rows)


def metric_cell(m: dict[str, Any]) -> str:
    """``{value, ci}`` in % as ``93.1 [90.2, 95.8]`` (``-`` when undefined)."""
    v, (lo, hi) = m["value"], m["ci"]
    if not math.isfinite(v):
        return "-"
    ci = f" [{100 * lo:.1f}, {100 * hi:.1f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    return f"{100 * v:.1f}{ci}"


def markdown_table(rows: list[tuple[str, dict[str, Any]]], level: str, first: str) -> str:
    """Rows ``(name, entry)`` as a Markdown table of ``level`` metrics (in %, with 95 % CI)."""
    head = f"| {first} | videos | " + " | ".join(TITLES[m] for m in METRICS) + " |"
    lines = [head, "|" + "---|" * (len(METRICS) + 2)]
    for name, entry in rows:
        cells = " | ".join(metric_cell(entry[level][m]) for m in METRICS)
        lines.append(f"| {name} | {entry['n_videos']} | {cells} |")
    return "\n".join(lines)


def cross_dataset_markdown(report: dict[str, Any]) -> str:
    """The cross-dataset table (video and frame level) plus the mean video AUROC."""
    rows = list(report["datasets"].items())
    aurocs = [e["video"]["auroc"]["value"] for _, e in rows]
    finite = [a for a in aurocs if math.isfinite(a)]
    mean = f"{100 * sum(finite) / len(finite):.1f}" if finite else "-"
    return (
        "## Video level (video score = mean frame P(fake))\n\n"
        f"{markdown_table(rows, 'video', 'dataset')}\n\n"
        f"Mean video AUROC over {len(finite)} datasets: {mean}\n\n"
        f"## Frame level\n\n{markdown_table(rows, 'frame', 'dataset')}\n\n"
        f"Values in %, 95 % bootstrap CI over videos ({report['n_boot']} resamples) in brackets; "
        f"accuracy at threshold {report['threshold']:.4g}.\n"
        + "".join(
            f"\n{name}: {', '.join(TITLES[m] for m in TWO_CLASS)} undefined: "
            f"{entry['undefined']} (they need both classes).\n"
            for name, entry in rows
            if entry.get("undefined")
        )
    )


def per_source_markdown(report: dict[str, Any]) -> str:
    """Each source against the other class of its dataset, video level then frame level."""
    parts = []
    for dataset, entry in report["datasets"].items():
        if entry["sources"]:
            rows = list(entry["sources"].items())
            for level in ("video", "frame"):
                parts.append(
                    f"## {dataset}, {level} level\n\n{markdown_table(rows, level, 'source')}"
                )
    return (
        "\n\n".join(parts) + "\n" if parts else "No dataset has more than one source per class.\n"
    )


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None (strict JSON: an undefined
    metric, such as AUROC over one class, is ``null``)."""
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def write_tables(
    report: dict[str, Any], out: Path, accounting: Sequence[Accounting] = ()
) -> list[Path]:
    """metrics.json, metrics.csv (long), cross_dataset.{md,csv,json}, per_source.md in ``out``;
    with ``accounting``, data.csv and the accounting below the cross-dataset table."""
    out.mkdir(parents=True, exist_ok=True)
    data = f"\n{accounting_markdown(accounting)}" if accounting else ""
    written = {
        "metrics.json": json.dumps(finite(report), indent=2, allow_nan=False) + "\n",
        "cross_dataset.md": cross_dataset_markdown(report) + data,
        "per_source.md": per_source_markdown(report),
    }
    for name, text in written.items():
        (out / name).write_text(text)
    pd.DataFrame(long_rows(report)).to_csv(out / "metrics.csv", index=False)
    wide = cross_dataset_frame(report)
    wide.to_csv(out / "cross_dataset.csv", index=False)
    wide.to_json(out / "cross_dataset.json", orient="records", indent=2)
    names = [*written, "metrics.csv", "cross_dataset.csv", "cross_dataset.json"]
    if accounting:
        pd.DataFrame(accounting_rows(accounting)).to_csv(out / "data.csv", index=False)
        names.append("data.csv")
    return [out / n for n in names]
