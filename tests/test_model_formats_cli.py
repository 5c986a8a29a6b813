"""All eight of the authors' checkpoint formats (the files under tests/fixtures/authors, written by
the authors' own writers and library versions) through the command line: ``dfdetect info``
prints each card and ``dfdetect scan --model`` gives the Python API's scores, with the face
pipeline it used."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from dfdetect import Detector
from dfdetect.cli import main
from dfdetect.faces import create_face_detector
from dfdetect.faces import pipeline as face_pipeline
from dfdetect.faces.pipeline import SCRFD_MODEL_ENV
from dfdetect.media.synthetic import face_image
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.pipeline import ScanPipeline
from test_model_formats import AUTHORS_FORMATS, authors_files  # noqa: F401 (a fixture)
from test_scan_media import load_crop


@pytest.fixture
def checkpoints(authors_files, monkeypatch) -> dict[str, Path]:  # noqa: F811
    """Each format's path, from the copy of the fixtures the checkpoints' backbones live in."""
    monkeypatch.chdir(authors_files)
    return {name: authors_files / path for name, (path, *_) in AUTHORS_FORMATS.items()}


@pytest.fixture(scope="module")
def photo(tmp_path_factory, sample_faces) -> Path:
    path = tmp_path_factory.mktemp("photo") / "face.png"
    face_image(path, load_crop(sample_faces["fake"][0]))
    return path


@pytest.mark.parametrize("name", sorted(AUTHORS_FORMATS))
def test_info_prints_every_formats_card(checkpoints, name, capsys):
    assert main(["info", str(checkpoints[name]), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    _, source_format, family, _, pipeline = AUTHORS_FORMATS[name]
    assert card["format"] == source_format and card["backbone"]["family"] == family
    assert card["face_pipeline"]["detector"] == pipeline.detector
    params = card["parameters"]
    assert 0 < params["trained"] < params["total"]
    assert card["transformers_version"] == version("transformers")
    # as many names converted as the installed transformers holds differently from the file
    det = Detector.from_pretrained(checkpoints[name], device="cpu")
    differ = sum(det.file_name(n) != n for n in det.state_dict())
    assert card["renamed_keys"] == det.renamed_keys and (det.renamed_keys > 0) == (differ > 0)
    assert main(["info", str(checkpoints[name])]) == 0
    text = capsys.readouterr().out
    assert f"face detector  {pipeline.detector}" in text and "trained" in text
    assert f"transformers   {version('transformers')}" in text
    keys = f"converted from file names ({det.renamed_keys} renamed)" if differ else "as in the file"
    assert f"keys           {keys}" in text


def test_info_of_a_missing_model_exits_3(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nothing")]) == 3
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(AUTHORS_FORMATS))
def test_scan_with_every_format_gives_the_api_scores(
    checkpoints, name, photo, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv(SCRFD_MODEL_ENV, raising=False)
    monkeypatch.setattr(face_pipeline, "_warned", set())  # the fallback warns once per process
    out = tmp_path / "r.jsonl"
    argv = ["scan", str(photo), "--model", str(checkpoints[name]), "--out", str(out)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main([*argv, "--db", str(tmp_path / "db.sqlite"), "--quiet"])
    assert code == 0
    result = json.loads(out.read_text().splitlines()[0])
    assert result["face_pipeline"]["detector"] == "mtcnn"  # SCRFD has no weights here
    fallback = [w for w in caught if "no SCRFD weights" in str(w.message)]
    assert len(fallback) == (1 if AUTHORS_FORMATS[name][4].detector == "scrfd" else 0)
    # the Python API on the same file with the same pipeline
    detector = Detector.from_pretrained(checkpoints[name], device="cpu")
    api = ScanPipeline(detector, create_face_detector("mtcnn"), ScanOptions())
    expected = api.analyze_path(photo)
    assert result["status"] == "ok" and len(result["faces"]) == 1
    np.testing.assert_allclose(result["prob"], expected.prob, atol=1e-5)
    crop = expected.face_pipeline["crop"]
    assert result["face_pipeline"]["crop"] == crop
