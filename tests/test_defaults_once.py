"""Defaults are written once: how faces are sampled and found (FaceSampling) behind every entry
point, and command-line flags that default to None and only override the settings'."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest

from dfdetect.cli import build_parser
from dfdetect.extract.options import ExtractOptions
from dfdetect.faces.pipeline import FacePipeline
from dfdetect.faces.sampling import EXTRACT_SAMPLING, SCAN_SAMPLING, FaceSampling
from dfdetect.robustness.runner import RobustnessOptions
from dfdetect.scan.options import ScanOptions
from dfdetect.serve.settings import ServeSettings

# flags whose default is not a setting of a dataclass (where to listen, logging, the key's env)
NOT_SETTINGS = {"--host", "--port", "--log-level", "--api-key", "--split", "--runtime"}


def test_scan_extract_serve_and_robustness_take_their_defaults_from_face_sampling():
    scan, extract = ScanOptions(), ExtractOptions(out=Path("out"))
    shared = ("frames", "sampling", "stride", "seek", "min_face_size", "max_faces")
    assert {k: getattr(scan, k) for k in shared} == {k: getattr(SCAN_SAMPLING, k) for k in shared}
    assert scan.detect_batch == SCAN_SAMPLING.detect_batch
    assert (extract.frames, extract.sampling, extract.seek) == (
        EXTRACT_SAMPLING.frames,
        EXTRACT_SAMPLING.sampling,
        EXTRACT_SAMPLING.seek,
    )
    assert extract.batch_size == EXTRACT_SAMPLING.detect_batch
    assert extract.min_face_size == EXTRACT_SAMPLING.min_face_size
    assert ServeSettings().frames == SCAN_SAMPLING.frames
    assert ServeSettings().batch_size == scan.batch_size
    assert (FacePipeline().frames, FacePipeline().sampling) == (32, "even")
    assert RobustnessOptions().frames is None  # crops stage: every crop


def test_scan_and_extract_differ_only_in_frame_order_and_seeking():
    differ = {
        f.name
        for f in fields(FaceSampling)
        if getattr(SCAN_SAMPLING, f.name) != getattr(EXTRACT_SAMPLING, f.name)
    }
    assert differ == {"sampling", "seek"}
    assert (SCAN_SAMPLING.sampling, SCAN_SAMPLING.seek) == ("even", "keyframe")
    assert (EXTRACT_SAMPLING.sampling, EXTRACT_SAMPLING.seek) == ("max-spread", "exact")
    with pytest.raises(ValueError, match="seek"):
        FaceSampling(seek="nearest")


def _subparser(command: str) -> argparse.ArgumentParser:
    actions = build_parser(command)._actions
    (sub,) = (a for a in actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize(
    "command", ["scan", "extract", "prepare", "serve", "evaluate", "robustness", "toy"]
)
def test_every_flag_defaults_to_none(command):
    parser = _subparser(command)
    defaulted = {
        action.option_strings[-1]: action.default
        for action in parser._actions
        if action.option_strings
        and action.nargs != 0  # not store_true / help
        and action.default is not None
        and not NOT_SETTINGS & set(action.option_strings)
    }
    assert defaulted == {}


def _serve_args(*argv: str) -> argparse.Namespace:
    return build_parser("serve").parse_args(["serve", *argv])


def test_serve_flags_only_override_the_settings_defaults(monkeypatch):
    from dfdetect.cli.serve import serve_settings

    monkeypatch.delenv("DFDETECT_API_KEY", raising=False)
    assert serve_settings(_serve_args()) == ServeSettings()
    given = serve_settings(
        _serve_args("--batch-wait", "0.02", "--frames", "8", "--job-ttl", "0", "--no-heatmaps")
    )
    assert given.batch_wait_s == 0.02  # seconds end to end
    assert (given.frames, given.job_ttl_s, given.heatmaps) == (8, None, False)
    assert given.max_queue == ServeSettings().max_queue


def test_help_shows_the_effective_defaults():
    serve = _subparser("serve").format_help()
    assert f"(default: {ServeSettings().batch_wait_s:g})" in serve
    extract = _subparser("extract").format_help()
    assert f"(default: {EXTRACT_SAMPLING.sampling}" in extract
    assert f"(default: {EXTRACT_SAMPLING.seek};" in extract


def test_extract_flags_left_out_keep_extract_options_defaults(tmp_path):
    from dfdetect.cli.extract import extract_options

    args = build_parser("extract").parse_args(["extract", "in.mp4", "--out", str(tmp_path)])
    assert extract_options(args) == ExtractOptions(out=tmp_path)
    args = build_parser("extract").parse_args(
        ["extract", "in.mp4", "--out", str(tmp_path), "--frames", "4", "--size", "native"]
    )
    assert extract_options(args) == ExtractOptions(out=tmp_path, frames=4, size=None)
