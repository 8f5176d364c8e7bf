"""Which sharded set-ups the trainer and its loggers support, told before any model is loaded.

FSDP and DeepSpeed are chosen with the usual transformers flags (`--fsdp` / `--fsdp_config`,
`--deepspeed`); configs ship in examples/sharding/. Under FSDP the DualFFN norms and the
zero-shot forward are collectives that every rank joins on every capture step, so every rank
must capture. FSDP1 keeps parameters as flat per-rank views the DualFFN probe cannot sum over
ranks; FSDP2 (transformers' default) is supported. DeepSpeed trains, but the loggers cannot yet
read its partitioned gradients, so the two together are refused rather than logged wrong.
"""

from __future__ import annotations

import sys

from transformers import TrainerCallback

from stratlog.trainer.strategic.shards import local_part


def sharding_engine(training_args) -> str:
    """"fsdp", "deepspeed" or "" (plain DDP / one process)."""
    if training_args.deepspeed:
        return "deepspeed"
    return "fsdp" if training_args.fsdp else ""


def sharding_refusal(training_args, logging_args) -> str:
    """Why this combination of flags cannot run, or "" when it can."""
    engine = sharding_engine(training_args)
    if not engine:
        return ""
    if engine == "fsdp" and int((training_args.fsdp_config or {}).get("version", 2)) != 2:
        return ("--fsdp_config: only FSDP2 (\"version\": 2, transformers' default) is supported: FSDP1 is deprecated in "
                "transformers and its flat parameter views cannot be summed over ranks by the DualFFN probe")
    if engine == "deepspeed" and logging_args.enable_strategic_logging:
        return ("--deepspeed with --enable_strategic_logging is not supported yet: ZeRO keeps gradients in its own "
                "partitioned buffers (a parameter's .grad is None where the DualFFN probe reads it) and accelerate runs "
                "the optimizer step inside backward, before the probe's moment; use FSDP (examples/sharding/fsdp.json) "
                "for a sharded run with the loggers, or train under DeepSpeed without them")
    if logging_args.enable_strategic_logging and logging_args.capture_ranks():
        return (f"--strategic_ranks {logging_args.strategic_ranks}: under {engine} every rank must capture "
                "('all', the default): the DualFFN norms add up the ranks' shards and the zero-shot forward gathers "
                "weights from every rank, so a rank left out would make the others wait forever")
    return ""


class ShardingReport(TrainerCallback):
    """Says, once training has wrapped the model, how much of it each rank really holds: the
    proof that the engine sharded it (about 1/world size of the elements under FSDP FULL_SHARD
    or ZeRO-3, all of them under DDP or ZeRO-2, whose optimizer state only is sharded)."""

    def __init__(self, engine: str):
        self.engine = engine

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        held = sum(local_part(p).numel() if not hasattr(p, "ds_tensor") else p.ds_tensor.numel() for p in model.parameters())
        total = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel() for p in model.parameters())
        unsharded = self.engine == "fsdp" and held == total and args.world_size > 1
        dtypes = ", ".join(sorted({str(local_part(p).dtype).removeprefix("torch.") for p in model.parameters()}))
        print(f"sharding: {self.engine}: rank {args.process_index} holds {held:,} of {total:,} parameter elements ({dtypes})"
              + (" (not sharded: accelerate ran these ranks as plain DDP, as it does on CPU-only ranks)" if unsharded else ""),
              file=sys.stderr, flush=True)
