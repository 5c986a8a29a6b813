"""The three MTCNN networks (Zhang et al. 2016, "Joint Face Detection and Alignment using
Multi-task Cascaded Convolutional Networks"), with the weights facenet-pytorch 2.6.0 published
(MIT, Tim Esler; see weights/LICENSE-facenet-pytorch.md), shipped inside dfdetect as one
safetensors file (``weights/mtcnn.safetensors``, made by scripts/convert_mtcnn_weights.py)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load as load_safetensors
from torch import nn

from dfdetect.errors import ModelNotFoundError

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11
    from importlib.resources.abc import Traversable

WEIGHTS_FILE = "weights/mtcnn.safetensors"  # inside dfdetect.faces
NET_NAMES = ("pnet", "rnet", "onet")  # tensor names in the file start with "<net>."
INSTALL_HINT = "pip install --force-reinstall dfdetect"


class PNet(nn.Module):
    """Proposal net: fully convolutional over a 12x12 window with stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,3,H,W) -> face probability map (B,h,w), box offsets (B,4,h,w)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


def _flatten(x: torch.Tensor) -> torch.Tensor:
    # The dense layers were trained on (width, height, channel)-ordered features.
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    """Refinement net on 24x24 candidates."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,3,24,24) -> face probability (N,), box offsets (N,4)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten(self.prelu3(self.conv3(x)))))
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net on 48x48 candidates: probability, box offsets and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N,3,48,48) -> probability (N,), box offsets (N,4), landmarks (N,10): x1..x5, y1..y5
        as fractions of the candidate box."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten(self.prelu4(self.conv4(x)))))
        return torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


def weights_file() -> Traversable:
    """The packaged weights file; ModelNotFoundError when this installation lacks it."""
    weights = resources.files("dfdetect.faces").joinpath(WEIGHTS_FILE)
    if not weights.is_file():
        raise ModelNotFoundError(
            f"the MTCNN weights ({WEIGHTS_FILE}) are missing from this installation of "
            f"dfdetect; reinstall it: {INSTALL_HINT}"
        )
    return weights


def empty_nets() -> tuple[PNet, RNet, ONet]:
    """The three networks with random weights, in :data:`NET_NAMES` order."""
    return PNet(), RNet(), ONet()


def load_mtcnn_nets(weights: Traversable | None = None) -> tuple[PNet, RNet, ONet]:
    """The three networks in eval mode with the shipped weights (strict, no pickles)."""
    tensors = load_safetensors((weights or weights_file()).read_bytes())
    nets = empty_nets()
    for name, net in zip(NET_NAMES, nets, strict=True):
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False)
    return nets
