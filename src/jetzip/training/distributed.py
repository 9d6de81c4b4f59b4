"""Data-parallel training with torch.distributed, as launched by `torchrun`.

Every rank reads the same data and makes the same split; each epoch's shuffled training rows
are cut into one equal shard per rank, and the per-rank batch is the global batch divided by
the number of ranks, so N processes take the same optimisation steps as one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from jetzip.errors import OptionError


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # True when we initialised the process group (and must end it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def agree(self, flag: bool) -> bool:
        """Rank 0's value of `flag` on every rank (so all ranks stop together)."""
        if not self.enabled:
            return flag
        value = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def broadcast_float(self, value: float) -> float:
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def mean(self, value: float) -> float:
        """Average of `value` over ranks."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N'; a clear error when CUDA is asked for but absent."""
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise OptionError("--device cuda was given but no CUDA GPU is available")
        return torch.device(name if ":" in name else f"cuda:{local_rank}")
    raise OptionError(f"unknown device {name!r}; use cpu or cuda")


def setup(device_name: str) -> DistContext:
    """Join the process group described by torchrun's environment variables, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    device = resolve_device(device_name, local_rank)
    if world_size <= 1:
        return DistContext(device=device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return DistContext(dist.get_rank(), dist.get_world_size(), device, owns)
