"""Find model files in a local folder or the Hugging Face Hub cache, with errors that say how to
provide them when they are missing (offline machines included)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dfdetect.errors import ModelNotFoundError


def is_local(name_or_path: str | os.PathLike) -> bool:
    """True when ``name_or_path`` names something on disk: it exists, or is written as a path
    (Hub ids are ``owner/name``)."""
    text = str(name_or_path)
    return (
        Path(text).expanduser().exists()
        or text.startswith((".", "/", "~"))
        or "\\" in text
        or text.count("/") > 1
    )


def how_to_provide(repo_id: str) -> str:
    """The ways to make ``repo_id`` available on this machine, as lines of a message."""
    from huggingface_hub import constants

    return (
        "To provide the weights:\n"
        f"  - online: run once with internet access (files go to the Hub cache "
        f"{constants.HF_HUB_CACHE});\n"
        f"  - offline: on a connected machine run `hf download {repo_id}` (or "
        f"`huggingface-cli download {repo_id}`), copy its HF_HOME cache folder here, point HF_HOME "
        "at it and set HF_HUB_OFFLINE=1;\n"
        f"  - or download the repository's files into a folder and pass that folder's path "
        f"instead of {repo_id!r}."
    )


def snapshot(repo_id: str, allow_patterns: Sequence[str]) -> Path:
    """Local folder holding ``repo_id``'s files matching ``allow_patterns`` (from the Hub cache,
    downloading when online). Respects HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, allow_patterns=list(allow_patterns))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as err:
        offline = constants.HF_HUB_OFFLINE
        why = "HF_HUB_OFFLINE is set and it is not in the cache" if offline else str(err).strip()
        raise ModelNotFoundError(
            f"cannot get {repo_id!r} from the Hugging Face Hub ({why.splitlines()[0]}).\n"
            + how_to_provide(repo_id)
        ) from err
    return Path(folder)


def resolve_folder(name_or_path: str | os.PathLike, allow_patterns: Sequence[str]) -> Path:
    """A local folder for ``name_or_path``: the folder itself, or a Hub snapshot of the repo."""
    if is_local(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(f"{path}: no such folder (expected a model folder)")
        return path
    return snapshot(str(name_or_path), allow_patterns)
