"""The three MTCNN networks as ONNX graphs for ONNX Runtime on the CPU.

Exported once from the shipped weights (``torch.onnx.export``, TorchScript exporter) and
cached under ``cache_root()/mtcnn/<key>``, the key a hash of the weights file and of the
graph layout, so later runs load the graphs at once. Each graph takes and returns what the
torch network does (normalised (N, 3, H, W) pixels in), so :class:`OnnxNet` stands in for it
in the one cascade of :mod:`dfdetect.faces.mtcnn`.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from dfdetect.faces import mtcnn_nets
from dfdetect.model.export import OPSET, ExportError
from dfdetect.model.runtime import cache_root

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11
    from importlib.resources.abc import Traversable

NAMES = mtcnn_nets.NET_NAMES
GRAPH_LAYOUT = "nchw-split-prelu-v3"  # part of the cache key: change it when the wrapper changes
EXAMPLE_SIDES = {"pnet": 24, "rnet": 24, "onet": 48}
OUTPUTS = {
    "pnet": ["prob", "offsets"],
    "rnet": ["prob", "offsets"],
    "onet": ["prob", "offsets", "points"],
}


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` can be imported (the ``[onnx]`` extra)."""
    return importlib.util.find_spec("onnxruntime") is not None


class SplitPReLU(nn.Module):
    """``prelu`` as ``a * z + (1 - a) * relu(z)``: ONNX Runtime runs a PRelu node outside its
    blocked convolution layout, converting to and from it around each one; these nodes stay
    inside it (RNet and ONet 25-35 % faster). Equal to PReLU up to float rounding."""

    def __init__(self, prelu: nn.PReLU) -> None:
        super().__init__()
        slope = prelu.weight.detach().clone()
        self.register_buffer("slope", slope)
        self.register_buffer("rest", 1 - slope)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (z.dim() - 2)  # per channel, on conv maps and dense outputs
        return self.slope.view(shape) * z + self.rest.view(shape) * torch.relu(z)


def split_prelus(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with its PReLUs split (see :class:`SplitPReLU`)."""
    net = copy.deepcopy(net)
    for name, child in list(net.named_children()):
        if isinstance(child, nn.PReLU):
            setattr(net, name, SplitPReLU(child))
    return net


def graphs_key(weights: Traversable) -> str:
    """Hash of the ``weights`` file and of the graph layout."""
    digest = hashlib.sha256(GRAPH_LAYOUT.encode())
    digest.update(weights.read_bytes())
    return digest.hexdigest()[:32]


def cached_graphs(cache: Path | None = None) -> dict[str, Path]:
    """Paths of the three graphs in the cache, exported there first when missing (raises
    :class:`~dfdetect.model.export.ExportError` when that fails)."""
    weights = mtcnn_nets.weights_file()  # looked up when called: tests replace it
    target = (cache or cache_root()) / "mtcnn" / graphs_key(weights)
    paths = {name: target / f"{name}.onnx" for name in NAMES}
    if all(path.is_file() for path in paths.values()):
        return paths
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, net in zip(NAMES, mtcnn_nets.load_mtcnn_nets(weights), strict=True):
            _export(split_prelus(net).eval(), name, paths[name])
    except (OSError, RuntimeError) as exc:  # e.g. a read-only cache, no `onnx` package
        raise ExportError(f"the MTCNN graphs could not be exported into {target}: {exc}") from exc
    return paths


def _export(module: nn.Module, name: str, path: Path) -> None:
    """Write ``module``'s graph to ``path`` atomically (concurrent processes may race)."""
    side = EXAMPLE_SIDES[name]
    dynamic = {0: "batch", 2: "height", 3: "width"} if name == "pnet" else {0: "batch"}
    axes = {"pixels": dynamic, **{out: {0: "batch"} for out in OUTPUTS[name]}}
    handle, temporary = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation chatter
            torch.onnx.export(
                module,
                (torch.zeros(1, 3, side, side),),
                temporary,
                dynamo=False,
                input_names=["pixels"],
                output_names=OUTPUTS[name],
                dynamic_axes=axes,
                opset_version=OPSET,
            )
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


class OnnxNet:
    """One graph on ONNX Runtime, called like the torch network it was exported from."""

    def __init__(self, path: Path, threads: int) -> None:
        from dfdetect.model.onnx_detector import ort_session

        self.session = ort_session(path, threads)

    def __call__(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The network's outputs for normalised (N, 3, H, W) float32 ``pixels``."""
        outputs = self.session.run(None, {"pixels": pixels.contiguous().numpy()})
        return tuple(torch.from_numpy(out) for out in outputs)


def onnx_nets(threads: int, cache: Path | None = None) -> tuple[OnnxNet, ...]:
    """PNet, RNet and ONet on ONNX Runtime, ``threads`` intra-op threads each."""
    return tuple(OnnxNet(path, threads) for path in cached_graphs(cache).values())
