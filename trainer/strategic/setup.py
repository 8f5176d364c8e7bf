"""Builds the publisher and the callbacks from the strategic-logging flags, for our trainer or yours.

Usage in any HF Trainer script whose model is `trainer.model.HiggsVoiceCloningModel`::

    from stratlog.trainer.strategic.arguments import StrategicLoggingArguments
    from stratlog.trainer.strategic.setup import build_strategic_logging
    from stratlog.trainer.strategic.termination import close_on_sigterm

    publisher, callbacks = build_strategic_logging(
        StrategicLoggingArguments(enable_strategic_logging=True, strategic_logging_steps=100),
        model_path="/models/higgs", audio_tokenizer_path="/models/higgs-tokenizer")
    trainer = Trainer(model=model, args=training_args, ..., callbacks=callbacks)
    close_on_sigterm(publisher)  # optional: on SIGTERM the run end "terminated" goes out before the process ends
    try:
        trainer.train()
    finally:
        publisher.close()
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from transformers import TrainerState
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import get_last_checkpoint

from stratlog.protocol.curve import ClientKeys
from stratlog.trainer.strategic.arguments import StrategicLoggingArguments
from stratlog.trainer.strategic.callbacks import (
    InputLoggerCallback, MetricsCallback, OutputLoggerCallback, RunLifecycleCallback, SharedAttentionLoggerCallback,
    ZeroShotLoggerCallback,
)
from stratlog.trainer.strategic.capture_step import CaptureScheduler
from stratlog.trainer.strategic.guard import CaptureGuard
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher


def shared_run_id() -> str:
    """One id for all ranks of a run: torchrun's rendezvous id when present (the same on
    every rank and node), else a fresh one for a single process."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "")
    return run_id if run_id and run_id != "none" else uuid.uuid4().hex[:12]


def starting_step(training_args) -> int:
    """The global step training starts from: 0, or the step of the checkpoint it resumes (from
    Trainer's own state file), so a run start sent before training is labelled as Trainer will."""
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint in (None, False, "") or str(checkpoint).lower() == "false":
        return 0
    if checkpoint is True or str(checkpoint).lower() == "true":
        checkpoint = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
    state = Path(checkpoint or "") / TRAINER_STATE_NAME
    return TrainerState.load_from_json(str(state)).global_step if state.is_file() else 0


def logging_interval_unset(argv: list[str]) -> bool:
    """True when the command line sets neither --logging_steps nor --logging_strategy: strategic
    metrics then go out every step rather than at transformers' default of every 500."""
    return not any(arg.split("=", 1)[0] in ("--logging_steps", "--logging_strategy") for arg in argv)


def build_strategic_logging(args: StrategicLoggingArguments, *, model_path: str, audio_tokenizer_path: str):
    """Returns (publisher, callbacks); the callbacks go last in the Trainer's list."""
    rank = int(os.environ.get("RANK", 0))
    publisher = SnapshotPublisher(PublisherConfig(
        address=args.strategic_sink_address, run_id=shared_run_id(), rank=rank,
        world_size=int(os.environ.get("WORLD_SIZE", 1)), spool_dir=args.strategic_spool_dir or None,
        curve=ClientKeys.load(args.strategic_sink_key, args.strategic_client_key) if args.strategic_sink_key else None,
    ))
    capture_ranks = args.capture_ranks()
    guard = CaptureGuard(publisher)
    scheduler = CaptureScheduler(args.strategic_logging_steps, guard,
                                 capturing_rank=not capture_ranks or rank in capture_ranks)
    loggers = [
        InputLoggerCallback(publisher, guard, scheduler),
        OutputLoggerCallback(publisher, guard, scheduler),
        SharedAttentionLoggerCallback(publisher, guard, scheduler, layers=args.strategic_attention_layers,
                                      heads=args.strategic_attention_heads),
        ZeroShotLoggerCallback(publisher, guard, scheduler),
    ]
    callbacks = [
        scheduler,
        MetricsCallback(publisher, guard, scheduler, every_step=logging_interval_unset(sys.argv[1:])),
        *loggers,
        RunLifecycleCallback(publisher, guard, model_path=model_path, audio_tokenizer_path=audio_tokenizer_path,
                             capture_interval=args.strategic_logging_steps, capture_ranks=capture_ranks),
    ]
    return publisher, callbacks
