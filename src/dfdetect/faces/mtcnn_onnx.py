"""The three MTCNN networks as ONNX graphs for ONNX Runtime on the CPU.

Exported once from the shipped weights and cached under ``cache_root()/mtcnn/<key>``, the key a
hash of the weights file and of the graph layout, so later runs load the graphs at once (a
damaged cached graph is exported again; see :mod:`dfdetect.runtime.cache`). Each graph takes
and returns what the torch network does (normalised (N, 3, H, W) pixels in), so
:class:`OnnxNet` stands in for it in the one cascade of :mod:`dfdetect.faces.mtcnn`.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from dfdetect.faces import mtcnn_nets
from dfdetect.runtime.cache import cache_root, load_cached
from dfdetect.runtime.export import ExportError, staged, torch_to_onnx
from dfdetect.runtime.sessions import ort_session

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


def _target(cache: Path | None) -> tuple[Path, dict[str, Path]]:
    """The cache folder of the graphs of the shipped weights, and the graphs' paths in it."""
    target = (cache or cache_root()) / "mtcnn" / graphs_key(mtcnn_nets.weights_file())
    return target, {name: target / f"{name}.onnx" for name in NAMES}


def _export_all(target: Path) -> None:
    """The three graphs, staged and moved into ``target`` together."""
    weights = mtcnn_nets.weights_file()  # looked up when called: tests replace it
    try:
        with staged(target) as work:
            for name, net in zip(NAMES, mtcnn_nets.load_mtcnn_nets(weights), strict=True):
                _export(split_prelus(net).eval(), name, work / f"{name}.onnx")
    except (OSError, RuntimeError, ExportError) as exc:  # a read-only cache, no `onnx` package
        raise ExportError(f"the MTCNN graphs could not be exported into {target}: {exc}") from exc


def cached_graphs(cache: Path | None = None) -> dict[str, Path]:
    """Paths of the three graphs in the cache, exported there first when missing (raises
    :class:`~dfdetect.runtime.export.ExportError` when that fails)."""
    target, paths = _target(cache)
    if not all(path.is_file() for path in paths.values()):
        _export_all(target)
    return paths


def _export(module: nn.Module, name: str, path: Path) -> None:
    """Write ``module``'s graph to ``path``."""
    side = EXAMPLE_SIDES[name]
    dynamic = {0: "batch", 2: "height", 3: "width"} if name == "pnet" else {0: "batch"}
    axes = {"pixels": dynamic, **{out: {0: "batch"} for out in OUTPUTS[name]}}
    example = torch.zeros(1, 3, side, side)
    torch_to_onnx(
        module, example, path, inputs=["pixels"], outputs=OUTPUTS[name], dynamic_axes=axes
    )


class OnnxNet:
    """One graph on ONNX Runtime, called like the torch network it was exported from."""

    def __init__(self, path: Path, threads: int) -> None:
        self.session = ort_session(path, threads)

    def __call__(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The network's outputs for normalised (N, 3, H, W) float32 ``pixels``."""
        outputs = self.session.run(None, {"pixels": pixels.contiguous().numpy()})
        return tuple(torch.from_numpy(out) for out in outputs)


def onnx_nets(threads: int, cache: Path | None = None) -> tuple[OnnxNet, ...]:
    """PNet, RNet and ONet on ONNX Runtime, ``threads`` intra-op threads each."""
    target, paths = _target(cache)
    return load_cached(
        target,
        lambda: _export_all(target),
        lambda: tuple(OnnxNet(path, threads) for path in paths.values()),
        lambda: all(path.is_file() for path in paths.values()),
    )
