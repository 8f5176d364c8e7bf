"""Which optimizer steps are captured, and on which ranks: the schedule (step 1, then every N) run
through a real `transformers.Trainer` loop, with and without gradient accumulation, and
--strategic_ranks read by the setup code on a faked rank 0 and rank 1.

Run: `python -m pytest -q tests/trainer/test_capture_schedule.py` (a few seconds, no torchrun).

The model is a toy (one embedding, a loss): the schedule is the scheduler's and the Trainer's
callback order, not the model's, so the Higgs model would only make the run slower. Each training
sample's input ids spell its index, so the captured batch says which micro-batch it was. Fixed
seed: the Trainer's sampler shuffles, and the micro-batch order the test reads must not change.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import Trainer, TrainerCallback, TrainingArguments

from stratlog.protocol import InputSnapshot
from stratlog.trainer.strategic.arguments import StrategicLoggingArguments
from stratlog.trainer.strategic.callbacks import InputLoggerCallback
from stratlog.trainer.strategic.capture_step import CaptureScheduler
from stratlog.trainer.strategic.guard import CaptureGuard
from stratlog.trainer.strategic.setup import build_strategic_logging

SEQUENCE = 4
"""Tokens per toy sample: sample i is [100 + i] * SEQUENCE (ids below the toy embedding's 1000)."""


class RecordingPublisher:
    """Stands in for SnapshotPublisher: keeps what would have been sent."""

    def __init__(self):
        self.sent: list[tuple[type, int, dict]] = []

    def send(self, message_type, *, step: int, **fields) -> bool:
        self.sent.append((message_type, step, fields))
        return True


class ToyModel(nn.Module):
    """Takes a Higgs-like batch (input_ids only) and records every training forward's batch."""

    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(audio_token_id=7, audio_delay_token_id=18, num_codebooks=8)
        self.embedding = nn.Embedding(1000, 1)
        self.training_batches: list[list[int]] = []

    def forward(self, input_ids, **kwargs):
        if self.training:
            self.training_batches.append(input_ids[:, 0].tolist())
        return {"loss": self.embedding(input_ids).pow(2).mean()}


class StepBoundaries(TrainerCallback):
    """Placed before the scheduler: notes how many forwards ran before each optimizer step."""

    def __init__(self, model: ToyModel):
        self.model, self.first_forward = model, {}

    def on_step_begin(self, args, state, control, **kwargs):
        self.first_forward[state.global_step + 1] = len(self.model.training_batches)


def run_toy_training(tmp_path, *, interval: int, steps: int, accumulation: int):
    """A real Trainer run of `steps` optimizer steps; returns the captured steps with the first
    sample of the batch each captured, the model (its training batches) and the step boundaries."""
    model = ToyModel()
    publisher = RecordingPublisher()
    guard = CaptureGuard(publisher)
    scheduler = CaptureScheduler(interval, guard, capturing_rank=True)
    boundaries = StepBoundaries(model)
    samples = [{"input_ids": torch.full((SEQUENCE,), 100 + i)} for i in range(steps * accumulation * 2)]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=steps, per_device_train_batch_size=2,
                             gradient_accumulation_steps=accumulation, learning_rate=1e-3, report_to="none",
                             use_cpu=True, save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0,
                             remove_unused_columns=False, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=samples,
                      data_collator=lambda rows: {"input_ids": torch.stack([row["input_ids"] for row in rows])},
                      callbacks=[boundaries, scheduler, InputLoggerCallback(publisher, guard, scheduler)])
    trainer.train()
    assert not guard.failures, guard.failures
    captured = {step: fields["input_ids"].to_numpy().tolist()[0] for kind, step, fields in publisher.sent
                if kind is InputSnapshot}
    assert len(captured) == len([kind for kind, _, _ in publisher.sent if kind is InputSnapshot])  # once per step
    return captured, model, boundaries


@pytest.mark.parametrize("interval, steps, expected", [
    (1, 5, [1, 2, 3, 4, 5]),
    (2, 7, [1, 2, 4, 6]),
    (10, 21, [1, 10, 20]),
])
@pytest.mark.parametrize("accumulation", [1, 3])
def test_step_1_and_every_nth_optimizer_step_are_captured_once_from_their_first_micro_batch(
        tmp_path, interval, steps, expected, accumulation):
    captured, model, boundaries = run_toy_training(tmp_path, interval=interval, steps=steps, accumulation=accumulation)
    assert sorted(captured) == expected
    assert len(model.training_batches) == steps * accumulation
    for step in expected:
        first_micro_batch = model.training_batches[boundaries.first_forward[step]]
        assert captured[step] == first_micro_batch[0], step


@pytest.mark.parametrize("interval, expected", [(1, [1, 2, 3, 4, 5, 6]), (2, [1, 2, 4, 6]), (10, [1, 10, 20, 30])])
def test_is_capture_step_counts_optimizer_steps_from_1(interval, expected):
    scheduler = CaptureScheduler(interval, CaptureGuard(RecordingPublisher()), capturing_rank=True)
    last = max(expected)
    assert [step for step in range(0, last + 1) if scheduler.is_capture_step(step)] == expected


@pytest.mark.parametrize("strategic_ranks, capturing", [
    ("all", {0: True, 1: True}),
    ("0", {0: True, 1: False}),
    ("1", {0: False, 1: True}),
    ("0,1", {0: True, 1: True}),
])
@pytest.mark.parametrize("rank", [0, 1])
def test_strategic_ranks_choose_the_capturing_ranks(monkeypatch, demo_assets, strategic_ranks, capturing, rank):
    """build_strategic_logging on a faked rank of a 2-rank run (torchrun's RANK / WORLD_SIZE):
    the scheduler captures exactly on the listed ranks; every rank still has its publisher."""
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", "2")
    publisher, callbacks = build_strategic_logging(
        StrategicLoggingArguments(enable_strategic_logging=True, strategic_logging_steps=2, strategic_ranks=strategic_ranks),
        model_path=str(demo_assets.model_dir), audio_tokenizer_path=str(demo_assets.audio_tokenizer_dir))
    try:
        (scheduler,) = [callback for callback in callbacks if isinstance(callback, CaptureScheduler)]
        assert (publisher.config.rank, publisher.config.world_size) == (rank, 2)
        assert scheduler.capturing_rank is capturing[rank]
        assert [step for step in range(1, 5) if scheduler.is_capture_step(step)] == ([1, 2, 4] if capturing[rank] else [])
    finally:
        publisher.close()
