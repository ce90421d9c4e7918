"""Data parallelism for the meta-trainer under ``torchrun``.

Every rank draws the same global batch of tasks and handles a contiguous shard of it
(:func:`shard`); gradients and metrics are summed across ranks with one collective
(:func:`all_reduce_sum`). Nothing here imports ``torch.distributed`` until it is called.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist_module

__all__ = ["all_reduce_sum", "broadcast_parameters", "dist", "init_distributed", "shard"]


def dist() -> Any:
    """The ``torch.distributed`` module (imported on first use)."""
    return dist_module


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE > 1``); return ``(rank, world)``.

    NCCL on CUDA, gloo elsewhere; a process group that is already initialized is reused, and a
    single process (no ``torchrun``) gets ``(0, 1)``.
    """
    d = dist()
    world_env = int(os.environ.get("WORLD_SIZE", "1"))
    if d.is_available() and not d.is_initialized() and world_env > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        d.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


def shard(n: int, rank: int, world: int) -> tuple[int, int]:
    """Tasks ``[lo, hi)`` of a global batch of ``n`` handled by ``rank`` of ``world`` ranks."""
    base, extra = divmod(n, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def all_reduce_sum(values: list[torch.Tensor], world: int) -> None:
    """Sum ``values`` in place across ranks with one collective (a no-op for one process)."""
    if world == 1 or not values:
        return
    flat = torch.cat([v.reshape(-1) for v in values])
    dist().all_reduce(flat)
    offset = 0
    for v in values:
        v.copy_(flat[offset : offset + v.numel()].view_as(v))
        offset += v.numel()


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Copy rank 0's ``state_dict`` tensors to every rank (identical starting weights)."""
    d = dist()
    with torch.no_grad():
        for t in module.state_dict().values():
            d.broadcast(t, src=0)
