"""A parameter's (or gradient's) part on this rank, and sums over the ranks that share it.

Under FSDP2 every parameter and its gradient is a DTensor sharded along dim 0 over the ranks of
its device mesh: each rank holds one slice. A norm is then the square root of the sum, over
ranks, of each rank's sum of squares of its own slice: one all_reduce of a few floats, no
parameter gathered. Under DDP (or one process) a parameter is a plain tensor that every rank
holds whole, and nothing needs adding up.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.fsdp import FSDPModule
from torch.distributed.tensor import DTensor
from torch.distributed.tensor.placement_types import Shard


def local_part(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's slice of a sharded tensor, the tensor itself otherwise (no copy, no collective)."""
    return tensor.to_local() if isinstance(tensor, DTensor) else tensor


def shard_group(tensor: torch.Tensor) -> dist.ProcessGroup | None:
    """The process group over which `tensor` is sharded; None when every rank holds it whole."""
    if not isinstance(tensor, DTensor):
        return None
    sharded = [dim for dim, placement in enumerate(tensor.placements) if isinstance(placement, Shard)]
    if len(sharded) != 1:
        raise ValueError(f"expected a parameter sharded along one mesh dimension, got placements {tensor.placements}"
                         " (hybrid sharding is not supported by the DualFFN probe)")
    return tensor.device_mesh.get_group(sharded[0])


def sum_over_shards(partial_sums: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:
    """Adds each rank's partial sums (in place) over `group`; unchanged when there is none.
    Every rank of the group must call this at the same point, as any collective."""
    if group is not None:
        dist.all_reduce(partial_sums, op=dist.ReduceOp.SUM, group=group)
    return partial_sums


def forward_is_collective(model: torch.nn.Module) -> bool:
    """True when the model's forward gathers weights from the other ranks, so every rank must run
    each extra forward together: FSDP2 (DTensor parameters) or DeepSpeed ZeRO-3 (partitioned
    parameters carry `ds_id`)."""
    return any(isinstance(p, DTensor) or hasattr(p, "ds_id") for p in model.parameters())


def reshard(model: torch.nn.Module) -> None:
    """Frees the gathered weights an extra forward left behind. FSDP2 keeps the root module's
    weights gathered after a forward, expecting the backward to use them; after a no-grad forward
    of our own (the zero-shot swap, before the optimizer step) they would stay, and the next training
    forward would run on these copies from before the step (seen: losses drifting from step 2 on).
    No-op without FSDP2."""
    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()
