"""torch.distributed set-up from the environment torchrun provides (RANK, WORLD_SIZE, ...)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job; ``world_size == 1`` when not launched by torchrun."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """The process that writes the run folder and validates."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when a process group is in use."""
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """torchrun / torch.distributed.run sets these for every worker."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def setup(device: str | None) -> tuple[DistInfo, torch.device]:
    """Join the process group if launched by torchrun (NCCL on CUDA, gloo on CPU) and choose
    this process's device (``cuda:LOCAL_RANK`` when CUDA is available, unless ``device``)."""
    info = DistInfo()
    if launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1:
        info = DistInfo(
            int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"])
        )
    if device is not None:
        target = torch.device(device)
        if target.type == "cuda" and target.index is None:  # each process its own GPU
            target = torch.device("cuda", info.local_rank)
    elif torch.cuda.is_available():
        target = torch.device("cuda", info.local_rank)
    else:
        target = torch.device("cpu")
    if target.type == "cuda":
        torch.cuda.set_device(target)
    if info.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if target.type == "cuda" else "gloo")
    return info, target


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op when not distributed)."""
    if info.enabled:
        dist.barrier()


def max_divergence(info: DistInfo, tensors: list[torch.Tensor]) -> float:
    """Largest absolute difference between any rank's ``tensors`` and rank 0's (0 when alone):
    DDP keeps replicas identical, and this checks it."""
    if not info.enabled:
        return 0.0
    flat = torch.cat([t.detach().float().reshape(-1).cpu() for t in tensors])
    reference = flat.clone()
    dist.broadcast(reference, 0)
    diff = (flat - reference).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff.item())


def teardown(info: DistInfo) -> None:
    """Leave the process group."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
