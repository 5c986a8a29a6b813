"""The Detector API on the tiny-random backbone: inputs, scores, save/reload, strictness."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

from dfdetect import Detector
from dfdetect.errors import CheckpointError, ModelNotFoundError
from dfdetect.model import DEFAULT_MODEL
from dfdetect.model.config import DetectorConfig


@pytest.fixture(scope="module")
def det() -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Detector.from_pretrained("tiny-random")


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(5)]


def test_default_model_name():
    assert DEFAULT_MODEL == "yermandy/GenD_CLIP_L_14"


def test_tiny_random_warns_on_every_use(faces):
    with pytest.warns(UserWarning, match="tiny-random"):
        det = Detector.from_pretrained("tiny-random")
    with pytest.warns(UserWarning, match="tiny-random"):
        det.predict(faces[:1])


def test_predict_matches_forward_by_hand(det, faces):
    probs = det.predict(faces, batch_size=2)
    assert probs.shape == (5,) and probs.dtype == np.float32
    assert ((probs > 0) & (probs < 1)).all()
    # the same numbers from the pieces: preprocess -> pooled -> L2 -> head -> softmax
    with torch.no_grad():
        pooled = det.pooled(det.preprocess(faces))
        logits = det.head(pooled / pooled.norm(dim=-1, keepdim=True))
    expected = torch.softmax(logits, dim=-1)[:, 1].numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert det.features(det.preprocess(faces)).norm(dim=-1).detach().numpy() == pytest.approx(
        [1.0] * 5, abs=1e-5
    )
    assert len(set(np.round(probs, 6))) == 5  # different faces, different scores


def test_every_input_form_gives_the_same_scores(det, faces):
    reference = det.predict(faces)
    forms = {
        "pil": [Image.fromarray(f) for f in faces],
        "hwc_tensor": [torch.from_numpy(f) for f in faces],
        "chw_tensor": [torch.from_numpy(f).permute(2, 0, 1) for f in faces],
        "batch_array": np.stack(faces),
        "batch_tensor": torch.from_numpy(np.stack(faces)),
        "rgba_pil": [Image.fromarray(f).convert("RGBA") for f in faces],
    }
    for name, value in forms.items():
        np.testing.assert_allclose(det.predict(value), reference, atol=1e-6, err_msg=name)


def test_mixed_sizes_keep_their_order(det, faces):
    rng = np.random.default_rng(1)
    odd = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    mixed = det.predict([faces[0], odd, faces[1]])
    np.testing.assert_allclose(mixed[[0, 2]], det.predict(faces[:2]), atol=1e-6)
    np.testing.assert_allclose(mixed[1], det.predict([odd])[0], atol=1e-6)


def test_bad_inputs_name_their_position(det, faces):
    with pytest.raises(ValueError, match="face 1: expected uint8"):
        det.predict([faces[0], faces[1].astype(np.float32)])
    with pytest.raises(ValueError, match="face 0: expected a PIL image"):
        det.predict(["face.png"])
    with pytest.raises(ValueError, match="batch_size"):
        det.predict(faces, batch_size=0)
    assert det.predict([]).shape == (0,)


def test_temperature_and_threshold(faces):
    det = Detector.from_pretrained("tiny-random")
    logits = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    det.config.temperature = 2.0
    expected = [1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(0.5))]
    assert det.probabilities(logits).tolist() == pytest.approx(expected, rel=1e-6)
    assert det.threshold == 0.5 and det.config.threshold == 0.5
    with pytest.raises(CheckpointError, match="temperature"):
        DetectorConfig(backbone="tiny-random", temperature=0.0)


def test_save_and_reload_gives_identical_scores(tmp_path, faces):
    det = Detector.from_pretrained("tiny-random")
    with torch.no_grad():  # "train": change every trained tensor
        for param in det.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.1)
    det.config.threshold = 0.7
    det.config.temperature = 1.5
    before = det.predict(faces)
    assert not np.allclose(before, Detector.from_pretrained("tiny-random").predict(faces))

    det.save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["backbone"] == "tiny-random" and config["threshold"] == 0.7
    crop = config["face_pipeline"]["crop"]
    assert crop["name"] == "gend" and crop["margin"] == 1.3
    assert config["face_pipeline"]["detector"] == "mtcnn" and config["source_format"] == "dfdetect"
    assert config["preprocess"]["crop_size"] == 224 and config["class_names"] == ["real", "fake"]
    assert config["dfdetect_version"]
    saved = load_file(tmp_path / "ckpt" / "model.safetensors")
    assert set(saved) == {det.file_name(n) for n in det.trained_names}  # only what was trained
    assert sum(t.numel() for t in saved.values()) == 6 * 2 * 32 + 2 * 32 + 2  # 6 LNs + head

    again = Detector.from_pretrained(tmp_path / "ckpt")
    np.testing.assert_array_equal(again.predict(faces), before)
    assert again.threshold == 0.7 and again.config.temperature == 1.5


def test_strict_loading_names_bad_keys(tmp_path):
    det = Detector.from_pretrained("tiny-random")
    folder = det.save_pretrained(tmp_path / "ckpt")
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    good = dict(tensors)

    tensors.pop("head.bias")
    tensors["head.extra"] = torch.zeros(2)
    save_file(tensors, weights)
    with pytest.raises(
        CheckpointError, match=r"missing keys: head\.bias.*unexpected keys: head\.extra"
    ):
        Detector.from_pretrained(folder)

    good["head.weight"] = torch.zeros(2, 7)
    save_file(good, weights)
    with pytest.raises(
        CheckpointError, match=r"head\.weight \(checkpoint \(2, 7\), model \(2, 32\)\)"
    ):
        Detector.from_pretrained(folder)

    weights.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        Detector.from_pretrained(folder)


def test_unknown_names_and_folders_are_clear(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"unknown backbone 'no-such-net'.*vit-l14"):
        Detector.from_config(DetectorConfig(backbone="no-such-net"))
    with pytest.raises(ModelNotFoundError, match="is a backbone, not a trained detector"):
        Detector.from_pretrained("openai/clip-vit-large-patch14")
    with pytest.raises(ModelNotFoundError, match="no such folder"):
        Detector.from_pretrained(tmp_path / "missing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hi")
    with pytest.raises(CheckpointError, match="not a dfdetect, GenD, Lightning or TorchScript"):
        Detector.from_pretrained(tmp_path / "junk")


def test_dtype_and_device_overrides(faces):
    det = Detector.from_pretrained("tiny-random", device="cpu", dtype="bfloat16")
    assert det.dtype == torch.bfloat16 and det.device == torch.device("cpu")
    assert det.preprocess(faces[:2]).dtype == torch.bfloat16
    fp32 = Detector.from_pretrained("tiny-random").predict(faces)
    np.testing.assert_allclose(det.predict(faces), fp32, atol=0.02)
    with pytest.raises(ValueError, match="unknown dtype"):
        Detector.from_pretrained("tiny-random", dtype="float7")


def test_from_config_linear_probe_trains_head_only(faces):
    det = Detector.from_config(DetectorConfig(backbone="tiny-random", adapter="linear-probe"))
    assert det.trained_names == ["head.weight", "head.bias"]
    assert [n for n, p in det.named_parameters() if p.requires_grad] == det.trained_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(
            det.predict(faces), Detector.from_pretrained("tiny-random").predict(faces), atol=1e-6
        )
    unnormalised = Detector.from_config(
        DetectorConfig(backbone="tiny-random", normalize_features=False)
    )
    x = unnormalised.preprocess(faces[:2])
    with torch.no_grad():
        assert torch.allclose(unnormalised(x), unnormalised.head(unnormalised.pooled(x)))
        assert not torch.allclose(
            unnormalised(x), unnormalised.head(F.normalize(unnormalised.pooled(x), dim=-1))
        )


def test_config_round_trip_and_bad_configs(tmp_path):
    config = DetectorConfig(backbone="tiny-random", threshold=0.3, adapter="lora")
    again = DetectorConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.lora.targets == ("q_proj", "v_proj")
    with pytest.raises(CheckpointError, match=r"unknown keys \['colour'\]"):
        DetectorConfig.from_dict({**config.to_dict(), "colour": "red"})
    with pytest.raises(CheckpointError, match="adapter 'prefix'"):
        DetectorConfig(backbone="tiny-random", adapter="prefix")
    with pytest.raises(CheckpointError, match="threshold"):
        DetectorConfig(backbone="tiny-random", threshold=1.5)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read JSON"):
        Detector.from_pretrained(tmp_path)
