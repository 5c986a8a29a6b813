"""Dataset layouts: explicit labels, splits, pairs and loud errors on unknown layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdetect.data import FAKE, REAL, DatasetError, create_dataset, dataset_names
from dfdetect.data.specs import load_entries, parse_data_arg


def _crop(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def _tree(root: Path, videos: dict[str, list[str]], frames: int = 2) -> Path:
    for source, names in videos.items():
        for name in names:
            for f in range(frames):
                _crop(root / source / name / f"{f:03d}.png", f)
    return root


def test_reference_ff_crops_get_labels_from_the_source_mapping(samples_dir):
    samples = create_dataset("FF", samples_dir / "FF").samples()
    by_source = {s.source: s for s in samples}
    assert {k: v.label for k, v in by_source.items()} == {
        "real": REAL,
        "DF": FAKE,
        "F2F": FAKE,
        "FS": FAKE,
        "NT": FAKE,
    }
    assert len(samples) == 20
    assert by_source["DF"].pair == "FF++/real/000"  # fake 000_003 pairs with real 000
    assert by_source["DF"].identity == "000" and by_source["real"].pair is None


def test_celebdf_crops_pair_synthesis_with_its_real_video(samples_dir):
    samples = create_dataset("cdfv2", samples_dir / "CDFv2").samples()
    fake = next(s for s in samples if s.source == "Celeb-synthesis")
    assert fake.label == FAKE and fake.pair == "CDFv2/Celeb-real/id0_0000"
    assert {s.label for s in samples if s.source.endswith("-real")} == {REAL}


def test_unknown_source_folder_is_an_error_naming_it(tmp_path):
    _tree(tmp_path / "FF", {"real": ["000"], "Mystery": ["001_002"]})
    with pytest.raises(DatasetError, match=r"Mystery.*known: .*Deepfakes"):
        create_dataset("ff++", tmp_path / "FF").samples()


def test_ff_official_splits_select_videos(tmp_path):
    root = _tree(
        tmp_path / "FF", {"real": ["000", "001", "002", "003"], "DF": ["000_001", "002_003"]}
    )
    (root / "splits").mkdir()
    for split, pairs in {"train": [["000", "001"]], "val": [["002", "003"]], "test": []}.items():
        (root / "splits" / f"{split}.json").write_text(json.dumps(pairs))
    train = create_dataset("ff++", root, split="train").samples()
    assert sorted({s.video for s in train}) == ["000", "000_001", "001"]
    assert {s.split for s in train} == {"train"}
    val = create_dataset("ff++", root, split="val").samples()
    assert sorted({s.video for s in val}) == ["002", "002_003", "003"]


def test_ff_split_without_split_files_explains_what_to_pass(tmp_path):
    _tree(tmp_path / "FF", {"real": ["000"]})
    with pytest.raises(DatasetError, match="splits=DIR"):
        create_dataset("ff++", tmp_path / "FF", split="train").samples()


def test_raw_ff_tree_lists_videos_and_asks_for_extraction(tmp_path):
    for rel in (
        "original_sequences/youtube/c23/videos/000.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
        "manipulated_sequences/FaceShifter/c23/videos/000_003.mp4",
        "original_sequences/actors/c23/videos/01__walk.mp4",  # DFD's, skipped by FF++
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    ff = create_dataset("ff++", tmp_path)
    assert ff.is_raw()
    assert [(v.source, v.video) for v in ff.raw_videos()] == [
        ("youtube", "000"),
        ("Deepfakes", "000_003"),
        ("FaceShifter", "000_003"),
    ]
    with pytest.raises(DatasetError, match=r"dfdetect prepare ff\+\+"):
        ff.samples()
    assert [v.video for v in create_dataset("dfd", tmp_path).raw_videos()] == ["01__walk"]


def test_celebdf_test_list_sets_split_and_must_agree_with_folders(tmp_path):
    root = _tree(
        tmp_path / "CDF", {"Celeb-real": ["id0_0000"], "Celeb-synthesis": ["id0_id1_0000"]}
    )
    (root / "List_of_testing_videos.txt").write_text("0 Celeb-synthesis/id0_id1_0000.mp4\n")
    test = create_dataset("cdfv2", root, split="test").samples()
    assert {(s.source, s.label) for s in test} == {("Celeb-synthesis", FAKE)}
    (root / "List_of_testing_videos.txt").write_text("1 Celeb-synthesis/id0_id1_0000.mp4\n")
    with pytest.raises(DatasetError, match="test list says label 0"):
        create_dataset("cdfv2", root).samples()


def test_dfdc_labels_come_from_the_csv(tmp_path):
    root = _tree(tmp_path / "DFDC", {"test": ["aaa", "bbb"]})
    (root / "labels.csv").write_text("filename,label\naaa.mp4,1\nbbb.mp4,0\n")
    labels = {s.video: s.label for s in create_dataset("dfdc", root).samples()}
    assert labels == {"aaa": FAKE, "bbb": REAL}
    (root / "labels.csv").write_text("filename,label\naaa.mp4,1\n")
    with pytest.raises(DatasetError, match=r"bbb.*not listed"):
        create_dataset("dfdc", root).samples()


def test_dfdc_preview_json_gives_label_and_set(tmp_path):
    root = _tree(tmp_path / "DFDCP", {"method_A": ["v1"], "original_videos": ["v2"]})
    (root / "dataset.json").write_text(
        json.dumps(
            {
                "method_A/x/v1.mp4": {"label": "fake", "set": "test"},
                "original_videos/x/v2.mp4": {"label": "real", "set": "train"},
            }
        )
    )
    test = create_dataset("dfdcp", root, split="test").samples()
    assert {(s.video, s.label) for s in test} == {("v1", FAKE)}


def test_generic_folder_with_a_label_table_and_unknown_labels(tmp_path):
    root = _tree(tmp_path / "mine", {"camera": ["a"], "gan": ["b"]})
    (root / "labels.json").write_text(json.dumps({"camera": "real", "gan": "fake"}))
    assert {s.source: s.label for s in create_dataset("folder", root).samples()} == {
        "camera": REAL,
        "gan": FAKE,
    }
    (root / "labels.json").write_text(json.dumps({"camera": "real", "gan": "synthetic"}))
    with pytest.raises(DatasetError, match="unknown label 'synthetic'"):
        create_dataset("folder", root)


def test_deepfakebench_json_reuses_listed_frames(tmp_path):
    frames = tmp_path / "frames"
    _crop(frames / "real" / "000" / "0.png")
    _crop(frames / "df" / "000_003" / "0.png")
    doc = {
        "FaceForensics++": {
            "FF-real": {
                "test": {"c23": {"000": {"label": "FF-real", "frames": ["real\\000\\0.png"]}}}
            },
            "FF-DF": {
                "test": {"c23": {"000_003": {"label": "FF-DF", "frames": ["df/000_003/0.png"]}}}
            },
        }
    }
    (tmp_path / "FF.json").write_text(json.dumps(doc))
    samples = create_dataset("deepfakebench", tmp_path / "FF.json", frames_root=frames).samples()
    by_video = {s.video: s for s in samples}
    assert by_video["000"].label == REAL and by_video["000_003"].label == FAKE
    assert by_video["000"].path == frames / "real" / "000" / "0.png"
    assert by_video["000_003"].pair == "FaceForensics++/FF-real/000"
    doc["FaceForensics++"]["FF-XX"] = doc["FaceForensics++"].pop("FF-DF")
    doc["FaceForensics++"]["FF-XX"]["test"]["c23"]["000_003"]["label"] = "FF-XX"
    (tmp_path / "FF.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="unknown label 'FF-XX'"):
        create_dataset("deepfakebench", tmp_path / "FF.json", frames_root=frames).samples()


def test_registry_and_data_arguments(tmp_path, samples_dir):
    assert {
        "ff++",
        "dfd",
        "cdfv1",
        "cdfv2",
        "dfdc",
        "dfdcp",
        "ffiw",
        "uadfv",
        "wdf",
        "df40",
        "folder",
        "deepfakebench",
    } <= set(dataset_names())
    with pytest.raises(DatasetError, match=r"unknown dataset 'nope'.*ff\+\+"):
        create_dataset("nope", tmp_path)
    with pytest.raises(DatasetError, match="unexpected keyword argument 'splitz'"):
        create_dataset("ff++", tmp_path, splitz="x")
    assert parse_data_arg("cdfv2=/d/CDF@test") == {
        "dataset": "cdfv2",
        "root": "/d/CDF",
        "split": "test",
    }
    assert parse_data_arg("/d/mine", "val") == {"dataset": "folder", "root": "/d/mine"}
    assert parse_data_arg("ff++=/d/FF", "val")["split"] == "val"
    shutil.copytree(samples_dir / "FF", tmp_path / "FF")
    samples = load_entries([{"dataset": "ff", "root": str(tmp_path / "FF")}], frames=2)
    assert len(samples) == 10  # 5 videos x 2 frames
    assert sorted({s.frame for s in samples if s.source == "real"}) == ["000", "038"]
