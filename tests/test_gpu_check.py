"""benchmarks/gpu_check.py: ``--device cpu --quick`` runs every section end to end and reports
positive, finite rates with ratios to each section's baseline; a section that fails or runs
out of time is recorded and the others go on. Nothing here asserts a speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENTRIES = {
    "predict": ["transformers_fp32", "torch_fp32", "torch_bf16", "torch_bf16_compile",
                "onnxruntime_cpu"],
    "train": ["ln_tuning_fp32", "ln_tuning_bf16"],
    "mtcnn": ["batched", "one_at_a_time"],
    "scan": ["runtime_auto", "torch_fp32"],
}  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("gpu_check") / "check.json"
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu",
               "--quick", "--threads", "1", "--json", str(path)]  # fmt: skip
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    printed = json.loads(run.stdout)  # stdout holds the one JSON object and nothing else
    assert json.loads(path.read_text()) == printed
    return printed


@pytest.mark.slow
@pytest.mark.parametrize("section", list(ENTRIES))
def test_every_section_reports_rates_and_ratios(report, section):
    out = report[section]
    assert "error" not in out, out["error"]
    assert list(out["entries"]) == ENTRIES[section]
    baseline = out["entries"][out["baseline"]]["per_s"]
    for name, entry in out["entries"].items():
        assert math.isfinite(entry["per_s"]) and entry["per_s"] > 0, name
        assert entry["ratio"] == pytest.approx(entry["per_s"] / baseline, rel=1e-12), name
    assert out["entries"][out["baseline"]]["ratio"] == 1.0


@pytest.mark.slow
def test_facts_and_the_figures_beside_the_rates(report):
    import torch

    facts = report["facts"]
    assert facts["device"] == "cpu" and facts["torch"] == torch.__version__
    assert "CPUExecutionProvider" in facts["onnxruntime_providers"]
    assert report["plan"]["backbone"] == "tiny-random" and report["quick"] is True

    predict = report["predict"]["entries"]
    assert predict["torch_fp32"]["max_abs_dp_vs_fp32"] == 0.0
    assert predict["onnxruntime_cpu"]["max_abs_dp_vs_fp32"] < 1e-5  # the same fp32 graph
    assert 0.0 < predict["torch_bf16"]["max_abs_dp_vs_fp32"] < 0.05  # bf16 rounds
    assert predict["torch_bf16_compile"]["backend"] == "eager"
    assert predict["torch_bf16_compile"]["compile_s"] >= 0.0
    assert predict["onnxruntime_cpu"]["provider"] == "CPUExecutionProvider"

    assert all(e["peak_gib"] is None for e in report["train"]["entries"].values())  # CUDA only

    mtcnn = report["mtcnn"]["entries"]
    assert mtcnn["batched"]["faces"] == mtcnn["one_at_a_time"]["faces"]

    scan = report["scan"]
    assert scan["entries"]["runtime_auto"]["runtime"] == "onnxruntime"  # auto on a CPU
    for entry in scan["entries"].values():
        assert entry["failed_files"] == 0
        if scan["face_in_videos"]:  # one face per sampled frame when the samples exist
            assert entry["faces"] == scan["videos"] * scan["frames_per_video"]


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import gpu_check

    return gpu_check


def test_a_section_out_of_time_keeps_its_figures_and_the_run_goes_on(gpu_check):
    import torch

    plan = gpu_check.Plan(limits_s={"predict": 0.3})

    def stuck(out, plan, device, deadline):
        out["entries"] = {"first": {"per_s": 1.0}}
        while True:
            time.sleep(0.01)

    out = gpu_check.run_section("predict", stuck, plan, torch.device("cpu"))
    assert "ran out of time" in out["error"]
    assert out["entries"] == {"first": {"per_s": 1.0}}


def test_a_variant_that_fails_or_overruns_is_recorded_beside_the_others(gpu_check):
    import gpu_sections

    entries: dict = {}

    def broken():
        raise ValueError("no such thing")

    def missing():
        raise gpu_sections.Unavailable("needs a package")

    def slow():
        while True:
            time.sleep(0.01)

    with gpu_sections.time_limit(60, "section"):
        assert gpu_sections.attempt(entries, "a", broken, 10) is None
        assert gpu_sections.attempt(entries, "b", missing, 10) is None
        assert gpu_sections.attempt(entries, "c", slow, 0.2) is None
        assert gpu_sections.attempt(entries, "d", lambda: 42, 10) == 42
    assert entries["a"] == {"error": "ValueError: no such thing"}
    assert entries["b"] == {"unavailable": "needs a package"}
    assert "ran out of time" in entries["c"]["error"]
    assert "d" not in entries
