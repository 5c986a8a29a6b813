"""ONNX export and runtime selection: the exported folder runs on ONNX Runtime with the
Detector's API and results, int8 says what it costs, ``auto`` exports once and reuses the cache,
and scan / evaluate give the same scores on either runtime."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdetect import Detector
from dfdetect.cli import main
from dfdetect.errors import ModelNotFoundError
from dfdetect.faces.pipeline import GEND_PIPELINE
from dfdetect.media.synthetic import background
from dfdetect.model.export import export_onnx
from dfdetect.model.loading import load_predictor
from dfdetect.model.onnx_cache import cached_onnx
from dfdetect.model.onnx_detector import OnnxDetector
from dfdetect.model.predictor import fingerprint
from dfdetect.runtime.export import ExportError, remove_stale_staging

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Detector, Path]:
    """tiny-random with moved LayerNorms, a calibrated temperature and GenD's face pipeline,
    saved as a dfdetect checkpoint."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_pretrained("tiny-random", device="cpu")
    with torch.no_grad():
        for name, p in det.named_parameters():
            if name in det.trained_names:
                p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    det.config = replace(det.config, temperature=1.7, threshold=0.42, face_pipeline=GEND_PIPELINE)
    return det, det.save_pretrained(tmp_path_factory.mktemp("ckpt") / "model")


@pytest.fixture(scope="module")
def faces(samples_dir) -> list[np.ndarray]:
    from PIL import Image

    paths = sorted(samples_dir.glob("*/*/*/*.png"))[:6]
    return [np.array(Image.open(p).convert("RGB")) for p in paths]


def test_fp32_export_gives_the_same_scores_and_carries_the_config(tmp_path, trained, faces):
    det, _ = trained
    exported, drift = export_onnx(det, tmp_path / "onnx")
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["config.json", "model.onnx"]
    assert drift["max_abs_dp"] < 1e-5
    loaded = load_predictor(tmp_path / "onnx").predictor
    assert isinstance(loaded, OnnxDetector)
    expected = det.predict(faces)
    assert np.ptp(expected) > 1e-4
    np.testing.assert_allclose(loaded.predict(faces), expected, atol=1e-5)
    np.testing.assert_allclose(exported.predict(faces), expected, atol=1e-5)
    config = loaded.config
    assert (config.temperature, config.threshold) == (1.7, 0.42)
    assert config.face_pipeline == GEND_PIPELINE and config.onnx["int8"] is False
    with pytest.raises(ExportError, match="not empty"):
        export_onnx(det, tmp_path / "onnx")
    with pytest.raises(ModelNotFoundError, match="run on the CPU"):
        load_predictor(tmp_path / "onnx", device="cuda")
    with pytest.raises(ModelNotFoundError, match="load_predictor"):
        Detector.from_pretrained(tmp_path / "onnx")


def op_types(path: Path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_clip_exports_are_fused_unless_fusion_changes_the_logits(tmp_path, trained, monkeypatch):
    from dfdetect.model import export

    det, _ = trained
    fused, _ = export_onnx(det, tmp_path / "fused")
    assert fused.config.onnx["fusion"] == "clip"
    assert {"Attention", "SkipLayerNormalization", "QuickGelu"} <= op_types(fused.path)
    monkeypatch.setattr(export, "FUSION_TOLERANCE", -1.0)  # no fused graph can pass
    plain, drift = export_onnx(det, tmp_path / "plain")
    assert plain.config.onnx["fusion"] == "" and "Attention" not in op_types(plain.path)
    assert drift["max_abs_dp"] < 1e-5 and not list(tmp_path.glob("**/*.fused.onnx"))


def test_int8_export_reports_its_drift(tmp_path, trained, faces):
    det, _ = trained
    exported, drift = export_onnx(det, tmp_path / "int8", int8=True)
    fp32_bytes = sum(p.numel() for p in det.parameters()) * 4
    assert (tmp_path / "int8" / "model.onnx").stat().st_size < 0.5 * fp32_bytes
    assert 0 < drift["max_abs_dp"] < 0.05
    measured = np.abs(exported.predict(faces) - det.predict(faces)).max()
    assert 0 < measured < 0.05


def test_auto_runtime_exports_once_then_reuses_the_cache(tmp_path, trained, faces):
    det, folder = trained
    first = load_predictor(str(folder), runtime="auto", cache=tmp_path).predictor
    assert isinstance(first, OnnxDetector)
    [cached] = [p for p in (tmp_path / "onnx").iterdir() if p.name != "sources"]
    stamp = (cached / "model.onnx").stat().st_mtime_ns
    again = load_predictor(str(folder), runtime="auto", cache=tmp_path).predictor
    assert again.path == first.path and (cached / "model.onnx").stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again.predict(faces), det.predict(faces), atol=1e-5)
    assert isinstance(load_predictor(str(folder), runtime="torch").predictor, Detector)
    changed = Detector.from_pretrained(folder, device="cpu")
    changed.config.threshold = 0.9  # another model: another cache entry
    assert cached_onnx(changed, tmp_path).path != first.path
    with pytest.raises(ModelNotFoundError, match="ONNX export"):
        load_predictor(first.path.parent, runtime="torch")
    assert load_predictor(first.path.parent, runtime="onnx").predictor.path == first.path


def test_a_cached_export_loads_without_building_the_torch_model(tmp_path, trained, faces):
    det, folder = trained
    cache = tmp_path / "cache"
    first = load_predictor(str(folder), cache=cache)
    assert isinstance(first.detector, Detector) and isinstance(first.predictor, OnnxDetector)
    assert first.fingerprint == fingerprint(det)
    [memo] = (cache / "onnx" / "sources").iterdir()
    fast = load_predictor(str(folder), cache=cache)
    assert isinstance(fast.detector, OnnxDetector) and fast.predictor is fast.detector
    assert fast.predictor.path == first.predictor.path
    assert fast.fingerprint == first.fingerprint
    np.testing.assert_allclose(fast.predictor.predict(faces), det.predict(faces), atol=1e-5)
    # gradients wanted, or the PyTorch runtime: the full path
    assert isinstance(load_predictor(str(folder), cache=cache, need_torch=True).detector, Detector)
    assert isinstance(load_predictor(str(folder), runtime="torch", cache=cache).predictor, Detector)
    # a torn record is ignored and rewritten
    memo.write_text("{not json")
    assert isinstance(load_predictor(str(folder), cache=cache).detector, Detector)
    assert json.loads(memo.read_text())["export"] == first.predictor.path.parent.name
    # changed weights on disk: another key, the full path again
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert isinstance(load_predictor(str(folder), cache=cache).detector, Detector)
    assert len(list((cache / "onnx" / "sources").iterdir())) == 2


def test_an_unwritable_cache_leaves_auto_on_torch(tmp_path, trained):
    _, folder = trained
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="cannot write the ONNX cache"):
        loaded = load_predictor(str(folder), cache=blocker / "cache")
    assert isinstance(loaded.predictor, Detector)
    with pytest.raises(ExportError, match="cannot write the ONNX cache"):
        load_predictor(str(folder), runtime="onnx", cache=blocker / "cache")


def test_a_warm_one_image_scan_imports_no_transformers(tmp_path, trained, samples_dir):
    from dfdetect.media.synthetic import face_image
    from test_scan_media import load_crop

    _, folder = trained
    photo = tmp_path / "face.png"
    face_image(photo, load_crop(sorted(samples_dir.glob("FF/*/*/*.png"))[0]))
    env = {**os.environ, "DFDETECT_CACHE": str(tmp_path / "cache")}
    script = (
        "import sys; from dfdetect.cli import main; "
        f"code = main(['scan', {str(photo)!r}, '--model', {str(folder)!r}, '--quiet', "
        f"'--db', {str(tmp_path / 'db.sqlite')!r}, '--out', sys.argv[1]]); "
        "print(code, 'transformers' in sys.modules)"
    )
    runs = []
    for k in range(2):
        out = tmp_path / f"{k}.jsonl"
        done = subprocess.run(
            [sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True
        )
        runs.append((done.stdout.split(), json.loads(out.read_text())))
    assert runs[0][0] == ["0", "True"]  # the first run builds the model and exports it
    assert runs[1][0] == ["0", "False"]
    # one model key on both paths: the second run finds the first one's stored result
    assert runs[1][1]["model_key"] == runs[0][1]["model_key"]
    assert runs[1][1]["prob"] == runs[0][1]["prob"]


def test_export_cli_checks_auroc_and_refuses_losses(tmp_path, trained, samples_dir, capsys):
    _, folder = trained
    data = f"cdfv2={samples_dir / 'CDFv2'}"
    code = main(["export", str(folder), "--out", str(tmp_path / "a"), "--check-data", data])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["auroc"]["drop"] == pytest.approx(0.0, abs=1e-9)
    assert 0.0 <= report["auroc"]["reference"] <= 1.0
    argv = ["export", str(folder), "--int8", "--check-data", data, "--max-auroc-drop", "-1"]
    assert main([*argv, "--out", str(tmp_path / "b")]) == 4  # any result loses more than -1
    err = capsys.readouterr().err
    assert not (tmp_path / "b").exists() and "nothing written" in err
    assert err.startswith("dfdetect export: error: the export loses")
    assert main([*argv, "--out", str(tmp_path / "c"), "--force"]) == 0
    assert (tmp_path / "c" / "model.onnx").is_file()
    capsys.readouterr()
    assert main(["info", str(tmp_path / "c"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "onnx-int8"


def test_scan_and_evaluate_agree_across_runtimes(tmp_path, trained, samples_dir, capsys):
    from dfdetect.media.synthetic import face_image
    from test_scan_media import load_crop

    _, folder = trained
    photo = tmp_path / "face.png"
    face_image(photo, load_crop(sorted(samples_dir.glob("FF/*/*/*.png"))[0]))
    probs = {}
    for runtime in ("torch", "onnx"):
        out = tmp_path / f"{runtime}.jsonl"
        argv = ["scan", str(photo), "--model", str(folder), "--runtime", runtime, "--quiet"]
        assert main([*argv, "--out", str(out), "--db", str(tmp_path / f"{runtime}.db")]) == 0
        probs[runtime] = json.loads(out.read_text())["prob"]
        evaluation = tmp_path / f"eval-{runtime}"
        argv = ["evaluate", "--model", str(folder), "--runtime", runtime, "--no-plots", "--quiet"]
        data = ["--data", f"cdfv2={samples_dir / 'CDFv2'}@all", "--bootstrap", "0"]
        assert main([*argv, *data, "--out", str(evaluation)]) == 0
        probs[f"eval-{runtime}"] = json.loads((evaluation / "metrics.json").read_text())
    capsys.readouterr()
    assert probs["torch"] == pytest.approx(probs["onnx"], abs=1e-5)
    video = {
        r: probs[f"eval-{r}"]["datasets"]["CDFv2"]["video"]["auroc"] for r in ("torch", "onnx")
    }
    assert video["torch"] == pytest.approx(video["onnx"], abs=1e-9)


# `dfdetect export --int8 --check-data` whose AUROC check touches a marker file and then blocks:
# the test acts (Ctrl-C, kill) at that point. SIGINT gets Python's handler, as in a terminal's
# foreground job (a background job of a non-interactive shell inherits it ignored).
HELD_EXPORT = """
import signal, sys, time
from pathlib import Path
import dfdetect.cli.export as export_cli
from dfdetect.cli import main

def held_check(*args, **kwargs):
    Path(sys.argv[1]).touch()
    time.sleep(300)

signal.signal(signal.SIGINT, signal.default_int_handler)
export_cli.auroc_change = held_check
sys.exit(main(["export", "tiny-random", "--int8", "--out", sys.argv[2],
               "--check-data", "x=" + sys.argv[3]]))
"""


def _export_held_in_check(tmp_path: Path, out: Path) -> subprocess.Popen:
    marker = tmp_path / "checking"
    proc = subprocess.Popen(
        [sys.executable, "-c", HELD_EXPORT, str(marker), str(out), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the export never reached its check:\n{proc.communicate()[1]}")
        time.sleep(0.1)
    return proc


@pytest.mark.slow
def test_an_export_interrupted_during_its_check_leaves_nothing(tmp_path):
    out = tmp_path / "exports" / "int8"
    proc = _export_held_in_check(tmp_path, out)
    assert [p.name[:8] for p in out.parent.iterdir()] == [".export-"]  # staged, out not there
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err
    assert list(out.parent.iterdir()) == []  # neither the graph nor its staging folder


@pytest.mark.slow
def test_stale_staging_folders_of_killed_exports_are_removed(tmp_path, trained):
    det, _ = trained
    parent = tmp_path / "exports"
    proc = _export_held_in_check(tmp_path, parent / "int8")
    proc.kill()
    proc.communicate(timeout=60)
    [killed] = parent.iterdir()  # a killed export leaves its staging folder
    cache = tmp_path / "cache"
    (cache / "onnx").mkdir(parents=True)
    shutil.copytree(killed, cache / "onnx" / killed.name)  # the same, in the runtime cache
    mine = f".export-{killed.name.split('-')[1]}-{os.getpid()}-x"  # a running (slow) export's
    old = parent / ".export-otherhost-1-y"  # another machine's, untouched for two days
    for folder in (parent / mine, parent / ".export-otherhost-1-z", old):
        folder.mkdir()
    for folder in (parent / mine, old):
        os.utime(folder, (time.time() - 2 * 86400,) * 2)
    export_onnx(det, parent / "fp32")
    assert sorted(p.name for p in parent.iterdir()) == sorted(
        ["fp32", mine, ".export-otherhost-1-z"]
    )
    cached_onnx(det, cache)
    assert not list((cache / "onnx").glob(".export-*"))
    assert remove_stale_staging(parent) == []  # the live ones stay


@pytest.mark.slow
def test_a_truncated_graph_in_a_model_folder_exits_3_naming_it(tmp_path, trained):
    det, _ = trained
    export_onnx(det, tmp_path / "onnx")
    graph = tmp_path / "onnx" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])
    Image.fromarray(background(64, 64)).save(tmp_path / "a.png")
    argv = ["scan", str(tmp_path / "a.png"), "--model", str(graph.parent)]
    done = subprocess.run(
        [sys.executable, "-m", "dfdetect", *argv, "--db", str(tmp_path / "db.sqlite")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    [line] = [x for x in done.stderr.splitlines() if "error" in x]
    assert line.startswith("dfdetect scan: error: ") and str(graph) in line
    assert "Traceback" not in done.stderr


def test_a_damaged_cached_export_is_removed_and_exported_again(tmp_path, trained, faces):
    det, folder = trained
    cache = tmp_path / "cache"
    first = load_predictor(str(folder), cache=cache).predictor
    size = first.path.stat().st_size
    first.path.write_bytes(first.path.read_bytes()[: size // 2])  # a disk filled up mid-copy
    with pytest.warns(UserWarning, match="damaged cached export removed and exported again"):
        again = load_predictor(str(folder), cache=cache)  # the fast path's record leads to it too
    assert again.predictor.path == first.path and first.path.stat().st_size == size
    np.testing.assert_allclose(again.predictor.predict(faces), det.predict(faces), atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: no warning any more
        assert load_predictor(str(folder), cache=cache).predictor.path == first.path
