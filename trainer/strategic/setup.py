"""Builds the publisher and the callbacks from the two seed flags, for our trainer or yours.

Usage in any HF Trainer script::

    publisher, callbacks = build_strategic_logging(StrategicLoggingArguments(enable_strategic_logging=True),
                                                   model_path=..., audio_tokenizer_path=...)
    trainer = Trainer(..., callbacks=callbacks)
    try:
        trainer.train()
    finally:
        publisher.close()
"""

from __future__ import annotations

import os
import uuid

from trainer.strategic.arguments import StrategicLoggingArguments
from trainer.strategic.callbacks import CaptureGuard, InputLoggerCallback, MetricsCallback, RunLifecycleCallback
from trainer.strategic.publisher import PublisherConfig, SnapshotPublisher
from trainer.strategic.schedule import CaptureSchedule


def shared_run_id() -> str:
    """One id for all ranks of a run: torchrun's rendezvous id when present (the same on
    every rank and node), else a fresh one for a single process."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "")
    return run_id if run_id and run_id != "none" else uuid.uuid4().hex[:12]


def build_strategic_logging(args: StrategicLoggingArguments, *, model_path: str, audio_tokenizer_path: str):
    """Returns (publisher, callbacks); callbacks go last in the Trainer's list."""
    publisher = SnapshotPublisher(
        PublisherConfig(
            address=args.strategic_sink_address,
            run_id=shared_run_id(),
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
        )
    )
    schedule = CaptureSchedule(args.strategic_logging_steps)
    guard = CaptureGuard(publisher)
    metrics = MetricsCallback(publisher, guard)
    callbacks = [
        metrics,
        InputLoggerCallback(publisher, guard, schedule, metrics),
        RunLifecycleCallback(publisher, guard, model_path=model_path, audio_tokenizer_path=audio_tokenizer_path, schedule=schedule),
    ]
    return publisher, callbacks
