"""ONNX export helpers shared by every graph dfdetect writes: the opset, the error, the
exporter call, and staging.

An export is written into a hidden staging folder beside its destination
(``.export-<host>-<pid>-<random>``), checked there, and renamed into place only when every check
passed: a reader never sees a graph that was not checked, and an interrupt leaves nothing. Staging
folders of exports that were killed (their process on this machine is gone; another machine's
untouched for :data:`STALE_STAGING_S`) are removed by the next export into the same folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dfdetect.errors import DfdetectError

OPSET = 17
STAGING_PREFIX = ".export-"
STALE_STAGING_S = 24 * 3600  # a staging folder untouched this long is a killed export's


class ExportError(DfdetectError):
    """A model could not be exported, or its export drifted too far from it."""


def torch_to_onnx(
    module: Any,
    example: Any,
    path: Path,
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Write ``module``'s graph traced on ``example`` to ``path`` (TorchScript exporter,
    :data:`OPSET`), without gradients and without the exporter's chatter."""
    import torch

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter about the legacy exporter
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
        )


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether it exists
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process
        return True
    return True


def _is_stale(folder: Path, now: float) -> bool:
    """Whether ``folder`` is the staging folder of an export that can no longer finish: its
    process on this machine is gone; for another machine's (a shared disk) or one of unknown
    origin, nothing was written into it for :data:`STALE_STAGING_S`."""
    host, _, rest = folder.name[len(STAGING_PREFIX) :].partition("-")
    pid = rest.partition("-")[0]
    if os.name == "posix" and host == _host_tag() and pid.isdigit():
        return not _process_alive(int(pid))
    try:
        return now - folder.stat().st_mtime > STALE_STAGING_S
    except OSError:
        return False


def remove_stale_staging(parent: str | os.PathLike) -> list[Path]:
    """Remove the staging folders in ``parent`` left by killed exports (never one a running
    export is writing); returns those removed."""
    now = time.time()
    try:
        candidates = [p for p in Path(parent).glob(f"{STAGING_PREFIX}*") if p.is_dir()]
    except OSError:
        return []
    stale = [p for p in candidates if _is_stale(p, now)]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A fresh staging folder beside ``out`` to write an export into; renamed to ``out`` (which
    must be absent or empty) when the block ends normally, removed whatever happens. Stale
    staging folders beside it are swept first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out.parent)
    prefix = f"{STAGING_PREFIX}{_host_tag()}-{os.getpid()}-"
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    try:
        yield work
        try:
            if out.exists():
                out.rmdir()
            work.rename(out)
        except OSError as err:  # e.g. another process filled ``out`` meanwhile
            raise ExportError(f"{out}: cannot move the export into place ({err})") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
