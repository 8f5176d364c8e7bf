"""HF `TrainerCallback`s that capture strategic snapshots and hand them to the publisher.

They work with any `Trainer` (ours or a user's): inputs are seen through a forward pre-hook
on the model, armed only for the first forward of a capture step, so a non-capture step pays
one boolean check. Every capture runs under `CaptureGuard`: an exception is counted, sent as
an error event, and training goes on — logging never changes or stops training.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import time
import traceback

import torch
from transformers import TrainerCallback

from protocol import ErrorEvent, InputSnapshot, Metrics, RunStart
from trainer.strategic.input_capture import input_snapshot_fields
from trainer.strategic.publisher import SnapshotPublisher
from trainer.strategic.schedule import CaptureSchedule


class CaptureGuard:
    """Runs capture code; failures become counted error events instead of exceptions."""

    def __init__(self, publisher: SnapshotPublisher):
        self.publisher = publisher
        self.failures = 0

    def run(self, where: str, step: int, action) -> None:
        try:
            action()
        except Exception as error:  # noqa: BLE001 - by design: logging must never stop training
            self.failures += 1
            print(f"[stratlog] capture failed in {where} at step {step}: {error!r}", file=sys.stderr)
            try:
                self.publisher.send(
                    ErrorEvent, step=step, where=where, error_type=type(error).__name__,
                    message="".join(traceback.format_exception_only(error)).strip()[:2000], count=self.failures,
                )
            except Exception:  # noqa: BLE001
                pass


def _json_safe(value) -> dict:
    return json.loads(json.dumps(value, default=str))


class RunLifecycleCallback(TrainerCallback):
    """Run start with the model and tokenizer identity; run end when training finishes."""

    def __init__(self, publisher: SnapshotPublisher, guard: CaptureGuard, *, model_path: str, audio_tokenizer_path: str, schedule: CaptureSchedule):
        self.publisher, self.guard = publisher, guard
        self.model_path, self.audio_tokenizer_path, self.schedule = model_path, audio_tokenizer_path, schedule

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def start():
            self.publisher.send(
                RunStart, step=state.global_step,
                model_path=os.path.abspath(self.model_path), tokenizer_path=os.path.abspath(self.model_path),
                audio_tokenizer_path=os.path.abspath(self.audio_tokenizer_path),
                model_config=_json_safe(model.config.to_dict()), training_args=_json_safe(args.to_dict()),
                hostname=socket.gethostname(), pid=os.getpid(),
                capture_interval=self.schedule.interval, capture_ranks=[],
                heartbeat_interval_s=self.publisher.config.heartbeat_interval_s,
            )
        self.guard.run("run_start", state.global_step, start)

    def on_train_end(self, args, state, control, **kwargs):
        self.publisher.close(status="completed")


class MetricsCallback(TrainerCallback):
    """Every `logging_steps`: Trainer's logs plus step time, tokens/s and memory."""

    def __init__(self, publisher: SnapshotPublisher, guard: CaptureGuard):
        self.publisher, self.guard = publisher, guard
        self._window_start = time.perf_counter()
        self._window_steps = 0
        self._window_tokens = 0

    def count_tokens(self, positions: int) -> None:
        self._window_tokens += positions

    def on_step_end(self, args, state, control, **kwargs):
        self._window_steps += 1

    def on_log(self, args, state, control, logs=None, **kwargs):
        def send():
            elapsed = time.perf_counter() - self._window_start
            values = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if self._window_steps:
                values["step_time_s"] = elapsed / self._window_steps
                values["tokens_per_second"] = self._window_tokens / elapsed if elapsed > 0 else 0.0
            values["memory_bytes"] = float(_memory_bytes())
            self.publisher.send(Metrics, step=state.global_step, values=values)
            self._window_start, self._window_steps, self._window_tokens = time.perf_counter(), 0, 0
        self.guard.run("metrics", state.global_step, send)


def _memory_bytes() -> int:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class InputLoggerCallback(TrainerCallback):
    """Input snapshot: tensor shapes, the first sample's ids, the audio segment table."""

    def __init__(self, publisher: SnapshotPublisher, guard: CaptureGuard, schedule: CaptureSchedule, metrics: MetricsCallback):
        self.publisher, self.guard, self.schedule, self.metrics = publisher, guard, schedule, metrics
        self._armed_step: int | None = None
        self._pending: dict | None = None
        self._hook = None
        self._audio_ids: tuple[int, int] = (0, 0)
        self._num_codebooks = 8

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        config = model.config
        self._audio_ids = (config.audio_token_id, config.audio_delay_token_id)
        self._num_codebooks = config.num_codebooks
        self._hook = model.register_forward_pre_hook(self._on_forward, with_kwargs=True)

    def on_step_begin(self, args, state, control, **kwargs):
        upcoming = state.global_step + 1
        self._armed_step = upcoming if self.schedule.is_capture_step(upcoming) else None

    def _on_forward(self, module, args, kwargs):
        if "input_ids" in kwargs and module.training:
            self.metrics.count_tokens(kwargs["input_ids"].numel())  # shape only: no device sync
        if self._armed_step is None or not module.training:
            return None
        step, self._armed_step = self._armed_step, None  # first micro-batch of the step only
        def capture():
            self._pending = {"step": step, **input_snapshot_fields(kwargs, self._audio_ids, self._num_codebooks)}
        self.guard.run("input_capture", step, capture)
        return None

    def on_step_end(self, args, state, control, **kwargs):
        if self._pending is not None:
            pending, self._pending = self._pending, None
            step = pending.pop("step")
            self.guard.run("input_snapshot", step, lambda: self.publisher.send(InputSnapshot, step=step, **pending))

    def on_train_end(self, args, state, control, **kwargs):
        if self._hook is not None:
            self._hook.remove()
