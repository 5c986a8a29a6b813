"""Convert facenet-pytorch 2.6.0's MTCNN weights (data/{pnet,rnet,onet}.pt, MIT) into the one
safetensors file dfdetect ships: src/dfdetect/faces/weights/mtcnn.safetensors.

Run once, where facenet-pytorch is installed (``pip install --no-deps facenet-pytorch==2.6.0``)
or with the folder holding the three .pt files:

    python scripts/convert_mtcnn_weights.py [FOLDER]

The .pt files are read with ``torch.load(weights_only=True)`` (no unpickling of code) and
every tensor name and shape is checked against dfdetect's own networks before writing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from dfdetect.faces.mtcnn_nets import NET_NAMES, WEIGHTS_FILE, empty_nets

TARGET = Path(__file__).resolve().parent.parent / "src" / "dfdetect" / "faces" / WEIGHTS_FILE


def facenet_data() -> Path:
    """facenet_pytorch/data, found without importing the package."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("facenet-pytorch is not installed; name the folder holding pnet/rnet/onet.pt")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else facenet_data()
    tensors = {}
    for name, net in zip(NET_NAMES, empty_nets(), strict=True):
        state = torch.load(folder / f"{name}.pt", map_location="cpu", weights_only=True)
        expected = {key: tuple(value.shape) for key, value in net.state_dict().items()}
        found = {key: tuple(value.shape) for key, value in state.items()}
        if found != expected:
            sys.exit(f"{folder / name}.pt: tensors differ from {name}: {found} != {expected}")
        tensors.update({f"{name}.{key}": value.contiguous() for key, value in state.items()})
    metadata = {"source": "facenet-pytorch 2.6.0 data/{pnet,rnet,onet}.pt", "license": "MIT"}
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, TARGET, metadata=metadata)
    print(f"{TARGET}: {len(tensors)} tensors, {TARGET.stat().st_size} bytes")


if __name__ == "__main__":
    main()
