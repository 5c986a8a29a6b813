"""Read the tensors of a TorchScript archive (the first paper's ``model.torchscript``) without
running anything from it.

A TorchScript file is a zip of a pickle (``data.pkl``: the module tree), raw tensor storages
(``data/N``) and TorchScript source (``code/``). The pickle is read by an unpickler that knows
only tensors, storages and placeholder module objects; any other reference is refused, so no
code from the file is imported or called. The source is only searched as text, to tell whether
the head L2-normalises its input.
"""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from dfdetect.errors import CheckpointError
from dfdetect.faces.pipeline import FIRST_PAPER_PIPELINE
from dfdetect.model.gend import authors_checkpoint
from dfdetect.model.registry import BACKBONES

MAX_ARCHIVE_BYTES = 8 << 30  # uncompressed; ViT-L/14 is 0.6 GB
STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
# Ops that L2-normalise, as they appear in traced or scripted TorchScript source.
NORMALIZE_OPS = ("linalg_vector_norm", "torch.norm(", "frobenius_norm", "functional.normalize")
LIBRARY_CODE = ("code/__torch__/torch/", "code/__torch__/transformers/")
HOW_TO_CONVERT = (
    "convert it where the authors' code runs: load the Lightning model and save "
    "{'state_dict': model.state_dict(), 'hyper_parameters': {'backbone': ..., 'head': ...}} "
    "with torch.save as model.ckpt, then load that"
)


class _ScriptModule:
    """Stands in for every ``__torch__`` class: it only keeps the attributes it is given."""

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}


class _Storage:
    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


def _rebuild_tensor(storage, offset, size, stride, *_: Any) -> torch.Tensor:
    return storage.as_strided(tuple(size), tuple(stride), int(offset))


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, path: Path):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.path = archive, prefix, path
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return _ScriptModule
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(STORAGE_DTYPES[name])
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise CheckpointError(
            f"{self.path}: refuses to load {module}.{name} from a TorchScript archive; "
            + HOW_TO_CONVERT
        )

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and pid[:1] == ("storage",) and len(pid) == 5):
            raise CheckpointError(f"{self.path}: unexpected storage reference {pid!r}")
        _, kind, key, _, numel = pid
        if not isinstance(kind, _Storage):
            raise CheckpointError(f"{self.path}: unknown storage type in {pid!r}")
        if key not in self.storages:
            raw = bytearray(self.archive.read(f"{self.prefix}data/{key}"))
            empty = torch.empty(0, dtype=kind.dtype)
            flat = torch.frombuffer(raw, dtype=kind.dtype) if raw else empty
            if flat.numel() < int(numel):
                raise CheckpointError(f"{self.path}: storage {key} is truncated")
            self.storages[key] = flat
        return self.storages[key]


def _flatten(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    if isinstance(obj, torch.Tensor):
        out[prefix.rstrip(".")] = obj.clone()
    elif isinstance(obj, _ScriptModule):
        for name, value in getattr(obj, "state", {}).items():
            _flatten(value, f"{prefix}{name}.", out)


def read_archive(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a TorchScript archive by dotted module path, and its own source code
    (library modules left out) as one text."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"{path}: not a TorchScript archive ({err})") from err
    with archive:
        infos = archive.infolist()
        if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
            raise CheckpointError(f"{path}: archive unpacks to more than {MAX_ARCHIVE_BYTES} bytes")
        pickles = [i.filename for i in infos if i.filename.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: not a TorchScript archive (no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        try:
            root = _SafeUnpickler(archive.read(pickles[0]), archive, prefix, path).load()
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{path}: unreadable TorchScript data ({err})") from err
        tensors: dict[str, torch.Tensor] = {}
        _flatten(root, "", tensors)
        own_code = "\n".join(
            archive.read(i.filename).decode("utf-8", "replace")
            for i in infos
            if i.filename.startswith(prefix + "code/")
            and i.filename.endswith(".py")
            and not i.filename[len(prefix) :].startswith(LIBRARY_CODE)
        )
    return tensors, own_code


def clip_backbone_for(tensors: dict[str, torch.Tensor], path: Path) -> str:
    """The registered CLIP backbone whose architecture the tensors' shapes describe."""
    tower = "feature_extractor.vision_model."
    tensors = {k.replace("base_model.model.", ""): v for k, v in tensors.items()}
    try:
        hidden = tensors[tower + "embeddings.class_embedding"].shape[0]
        patch = tensors[tower + "embeddings.patch_embedding.weight"].shape[-1]
        positions = tensors[tower + "embeddings.position_embedding.weight"].shape[0]
        intermediate = tensors[tower + "encoder.layers.0.mlp.fc1.weight"].shape[0]
    except KeyError as err:
        raise CheckpointError(
            f"{path}: no CLIP vision tower under {tower} ({err}); " + HOW_TO_CONVERT
        ) from err
    layers = len({k.split(".")[4] for k in tensors if k.startswith(tower + "encoder.layers.")})
    shape = {
        "hidden_size": hidden,
        "patch_size": patch,
        "image_size": math.isqrt(positions - 1) * patch,
        "num_hidden_layers": layers,
        "intermediate_size": intermediate,
    }
    for name, spec in BACKBONES.items():
        if spec.family == "clip" and all(spec.arch.get(k) == v for k, v in shape.items()):
            return name
    raise CheckpointError(
        f"{path}: its CLIP tower {shape} matches no registered backbone; " + HOW_TO_CONVERT
    )


def read_torchscript(path: Path):
    """A whole-backbone checkpoint from the first paper's ``model.torchscript``."""
    tensors, code = read_archive(path)
    backbone = clip_backbone_for(tensors, path)
    head = "LinearNorm" if any(op in code for op in NORMALIZE_OPS) else "linear"
    return authors_checkpoint(
        tensors, backbone, head, str(path), "torchscript", FIRST_PAPER_PIPELINE
    )
