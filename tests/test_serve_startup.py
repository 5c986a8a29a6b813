"""Service start-up: readiness while the model loads, a failed load, and the CLI's exit code."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import threading

import pytest
from fastapi.testclient import TestClient

from dfdetect.cli import serve as serve_cli
from dfdetect.errors import ModelNotFoundError
from dfdetect.serve import ServeSettings, create_app
from dfdetect.serve.analyzer import Analyzer
from dfdetect.serve.process import free_port
from dfdetect.serve.uploads import display_name


def test_not_ready_until_loaded_then_failed_load_is_reported(tmp_path, monkeypatch):
    release = threading.Event()
    heard: list[BaseException] = []

    def slow_failing_load(settings, on_batch=None, scorer=None):
        release.wait(10)
        raise ModelNotFoundError(f"no model at {settings.model}")

    monkeypatch.setattr(Analyzer, "load", staticmethod(slow_failing_load))
    app = create_app(ServeSettings(model="nowhere", data_dir=tmp_path), on_load_error=heard.append)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        loading = client.get("/readyz")
        assert (loading.status_code, loading.json()["status"]) == (503, "loading")
        early = client.post("/v1/images", content=b"\x89PNG\r\n\x1a\n")
        assert (early.status_code, early.json()["error"]["code"]) == (503, "model_loading")
        release.set()
        for _ in range(100):
            if heard:
                break
            threading.Event().wait(0.05)
        failed = client.get("/readyz")
        assert failed.status_code == 503
        assert failed.json() == {
            "status": "failed",
            "model": "nowhere",
            "error": "ModelNotFoundError: no model at nowhere",
        }
        assert isinstance(heard[0], ModelNotFoundError)
        refused = client.post("/v1/images", content=b"\x89PNG\r\n\x1a\n")
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "model_failed")
    assert (tmp_path / "jobs.sqlite3").is_file() and (tmp_path / "uploads").is_dir()


def test_cli_exits_non_zero_when_the_model_cannot_load(tmp_path):
    missing = tmp_path / "no-such-model"
    cmd = [sys.executable, "-m", "dfdetect", "serve", "--model", str(missing)]
    cmd += ["--port", str(free_port()), "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3  # the exit-code table: model cannot load
    assert f"cannot load model '{missing}'" in done.stderr


@pytest.mark.parametrize(
    "option", ["--max-queue=0", "--max-upload-mb=-1", "--request-timeout=0", "--max-inflight=0"]
)
def test_cli_rejects_out_of_range_options(tmp_path, capsys, option):
    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    assert serve_cli.run(parser.parse_args([option, "--data-dir", str(tmp_path)])) == 2
    assert option.split("=")[0] in capsys.readouterr().err
    assert not tmp_path.joinpath("jobs.sqlite3").exists()  # refused before starting anything


def test_images_in_flight_default_to_twice_the_usable_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert ServeSettings().max_inflight_images == 6
    assert ServeSettings(max_inflight_images=2).max_inflight_images == 2


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\clip.mp4", "clip.mp4"),
        ("evil\x00name\n.jpg", "evilname.jpg"),
        ("", "upload"),
        (None, "upload"),
        ("/", "upload"),
    ],
)
def test_client_filenames_are_reduced_to_display_names(raw, shown):
    assert display_name(raw) == shown


class BlockingAnalyzer:
    """Stands in for the model: each analysis waits until the test lets it finish."""

    threshold = 0.5

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def analyze(self, path, filename, heatmaps, cancel=None):
        self.started.set()
        self.release.wait(10)
        return {"path": filename, "status": "ok", "faces": []}

    def close(self) -> None:
        pass


def test_images_in_flight_are_bounded_with_429(tmp_path, monkeypatch):
    engine = BlockingAnalyzer()
    monkeypatch.setattr(
        Analyzer, "load", staticmethod(lambda settings, on_batch=None, scorer=None: engine)
    )
    settings = ServeSettings(
        data_dir=tmp_path, max_inflight_images=1, max_waiting_images=0, job_workers=0
    )  # no wait queue: the second image is refused at once
    app = create_app(settings)
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    with TestClient(app) as client:
        while client.get("/readyz").status_code != 200:
            threading.Event().wait(0.01)
        first: dict = {}
        worker = threading.Thread(
            target=lambda: first.update(r=client.post("/v1/images", content=png))
        )
        worker.start()
        assert engine.started.wait(10)
        busy = client.post("/v1/images", content=png)
        assert (busy.status_code, busy.json()["error"]["code"]) == (429, "busy")
        assert busy.headers["retry-after"] == "1"
        engine.release.set()
        worker.join(10)
        assert first["r"].status_code == 200 and first["r"].json()["path"] == "upload"
        assert client.post("/v1/images", content=png).status_code == 200  # the slot came back
    assert not list((tmp_path / "uploads").iterdir())


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--replicas=2"], "--replicas: only with --engine ray"),
        (["--engine=ray", "--replicas=2", "--max-replicas=4"], "--replicas fixes the count"),
        (["--engine=ray", "--min-replicas=2"], "--min-replicas needs --max-replicas"),
        (["--engine=ray", "--min-replicas=3", "--max-replicas=2"], "below --min-replicas"),
        (["--engine=ray", "--data-dir=s3://bucket/jobs"], "s3://bucket/jobs: Install s3fs"),
        (["--data-dir=file:///tmp/jobs"], "a URL only with --engine ray"),
        (["--engine=ray", "--gpus-per-replica=-1"], "--gpus-per-replica"),
    ],
)
def test_cli_rejects_ray_options_that_do_not_go_together(tmp_path, capsys, options, reason):
    if "s3fs" in reason and importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here")
    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    args = parser.parse_args(["--data-dir", str(tmp_path), *options])
    assert serve_cli.run(args) == 2
    assert reason in capsys.readouterr().err
