"""The strategic loggers as HF `TrainerCallback`s: run lifecycle, metrics, and the seed's four
loggers (input, output, shared attention / DualFFN, zero-shot verification).

Each logger only packs what `CaptureScheduler` caught (or measures what must be measured
where the tensors live) and hands it to the publisher; judging happens in the sink. Every
piece runs under `CaptureGuard`.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import TrainerCallback

from stratlog.protocol import (
    Array,
    AttentionSnapshot,
    InputSnapshot,
    Metrics,
    OutputSnapshot,
    RunStart,
    TokenizerIdentity,
    ZeroShotSnapshot,
)
from stratlog.trainer.data.sequences import AudioTokenIds
from stratlog.trainer.strategic.attention_capture import AttentionProbe, choose_heads, choose_layers, decoder_layers
from stratlog.trainer.strategic.capture_step import CapturedStep, CaptureScheduler
from stratlog.trainer.strategic.dualffn_capture import DualFfnProbe
from stratlog.trainer.strategic.guard import CaptureGuard
from stratlog.trainer.strategic.input_capture import input_snapshot_fields
from stratlog.trainer.strategic.publisher import SnapshotPublisher
from stratlog.trainer.strategic.shards import forward_is_collective
from stratlog.trainer.strategic.zero_shot_capture import ReferenceSwap, zero_shot_snapshot_fields


def _json_safe(value) -> dict:
    return json.loads(json.dumps(value, default=str))


def _tokenizer_identity(tokenizer_path: str) -> TokenizerIdentity:
    """The run's text tokenizer as the sink checks its own against (the tokenizer.json the run
    loaded); "not given" for a checkpoint without one."""
    file = os.path.join(tokenizer_path, "tokenizer.json")
    return TokenizerIdentity.of(Tokenizer.from_file(file)) if os.path.isfile(file) else TokenizerIdentity()


def _float_array(tensor: torch.Tensor) -> Array:
    return Array.from_numpy(tensor.detach().float().cpu().numpy())  # device->host copy: capture steps only


class RunLifecycleCallback(TrainerCallback):
    """Run start with the model and tokenizer identity; run end when training finishes."""

    def __init__(self, publisher: SnapshotPublisher, guard: CaptureGuard, *, model_path: str, audio_tokenizer_path: str,
                 capture_interval: int, capture_ranks: list[int]):
        self.publisher, self.guard = publisher, guard
        self.model_path, self.audio_tokenizer_path = model_path, audio_tokenizer_path
        self.capture_interval, self.capture_ranks = capture_interval, capture_ranks
        self.announced = False

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not self.announced:
            self.announce(model, args, state.global_step)

    def announce(self, model, args, step: int) -> None:
        """Run start, once: a script that can fail before training (data loading) calls this
        first, so the sink hears of the run, and then of its error and end, whatever happens."""
        self.announced = True
        self.guard.run("run_start", step, lambda: self.publisher.send(
            RunStart, step=step,
            model_path=os.path.abspath(self.model_path), tokenizer_path=os.path.abspath(self.model_path),
            audio_tokenizer_path=os.path.abspath(self.audio_tokenizer_path),
            model_config=_json_safe(model.config.to_dict()), training_args=_json_safe(args.to_dict()),
            hostname=socket.gethostname(), pid=os.getpid(),
            capture_interval=self.capture_interval, capture_ranks=self.capture_ranks,
            heartbeat_interval_s=self.publisher.config.heartbeat_interval_s,
            tokenizer_identity=_tokenizer_identity(self.model_path),
        ))

    def on_train_end(self, args, state, control, **kwargs):
        self.publisher.close(status="completed")


class MetricsCallback(TrainerCallback):
    """Every `logging_steps` (every step with `every_step`): Trainer's logs plus step time,
    tokens/s and memory."""

    def __init__(self, publisher: SnapshotPublisher, guard: CaptureGuard, scheduler: CaptureScheduler, *,
                 every_step: bool = False):
        """`every_step`: ask Trainer to log at every step, whatever `logging_steps` says (the
        command line did not set it, and transformers' default of 500 would leave the sink's
        charts empty for most of a run; handing a metrics message to the publisher is cheap)."""
        self.publisher, self.guard, self.scheduler = publisher, guard, scheduler
        self.every_step = every_step
        self._window_start = time.perf_counter()
        self._window_steps = 0
        self._window_tokens = 0

    def on_step_end(self, args, state, control, **kwargs):
        self._window_steps += 1
        if self.every_step:
            control.should_log = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        def send():
            elapsed = time.perf_counter() - self._window_start
            values = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if self._window_steps:
                tokens = self.scheduler.tokens_seen - self._window_tokens
                values["step_time_s"] = elapsed / self._window_steps
                values["tokens_per_second"] = tokens / elapsed if elapsed > 0 else 0.0
            values["memory_bytes"] = float(_memory_bytes())
            self.publisher.send(Metrics, step=state.global_step, values=values)
            self._window_start, self._window_steps = time.perf_counter(), 0
            self._window_tokens = self.scheduler.tokens_seen
        self.guard.run("metrics", state.global_step, send)


def _memory_bytes() -> int:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class _SnapshotLogger(TrainerCallback):
    """Common shape of the four loggers: on a captured step, build fields and send."""

    where = ""
    message_type = None

    def __init__(self, publisher: SnapshotPublisher, guard: CaptureGuard, scheduler: CaptureScheduler):
        self.publisher, self.guard, self.scheduler = publisher, guard, scheduler

    def fields(self, captured: CapturedStep, model) -> dict | None:
        raise NotImplementedError

    def on_step_end(self, args, state, control, model=None, **kwargs):
        captured = self.scheduler.captured
        if captured is None or captured.step != state.global_step or captured.batch is None:
            return

        def send():
            fields = self.fields(captured, model)
            if fields is not None:
                self.publisher.send(self.message_type, step=captured.step, **fields)
        self.guard.run(self.where, captured.step, send)


class InputLoggerCallback(_SnapshotLogger):
    """Tensor shapes, the first sample's ids, the audio segment table, sample ids."""

    where, message_type = "input_snapshot", InputSnapshot

    def fields(self, captured, model):
        return input_snapshot_fields(captured.batch, captured.layout)


class OutputLoggerCallback(_SnapshotLogger):
    """Predictions vs labels, losses and accuracies of the training forward."""

    where, message_type = "output_snapshot", OutputSnapshot

    def fields(self, captured, model):
        return captured.output_fields


class SharedAttentionLoggerCallback(_SnapshotLogger):
    """Attention statistics of sampled layers/heads and DualFFN gradient norms / update ratios."""

    where, message_type = "attention_snapshot", AttentionSnapshot

    def __init__(self, publisher, guard, scheduler, *, layers: str = "4", heads: str = "all"):
        super().__init__(publisher, guard, scheduler)
        self.layer_spec, self.head_spec = layers, heads
        self.probe: AttentionProbe | None = None
        self.ffn: DualFfnProbe | None = None
        scheduler.batch_listeners.append(self._on_batch)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not self.scheduler.capturing_rank:
            return  # a rank that never captures needs no probes (the DualFFN probe's indices live on the device)

        def setup():
            layers = choose_layers(self.layer_spec, len(decoder_layers(model)))
            self.probe = AttentionProbe(model, layers, choose_heads(self.head_spec, model.config.num_attention_heads))
            self.ffn = DualFfnProbe(model)
        self.guard.run("attention_setup", state.global_step, setup)

    def _on_batch(self, captured: CapturedStep) -> None:
        if self.probe is None:
            return
        device = captured.batch["input_ids"].device
        masks = {name: torch.from_numpy(mask).to(device) for name, mask in captured.layout.position_masks(0).items()}
        self.probe.arm(0, masks)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self.ffn is not None and self.scheduler.captured is not None and self.scheduler.captured.batch is not None:
            self.guard.run("dualffn_gradients", self.scheduler.captured.step, self.ffn.before_optimizer_step)

    def on_optimizer_step(self, args, state, control, **kwargs):
        captured = self.scheduler.captured
        if self.ffn is not None and captured is not None and self.ffn.grad_norms:
            def ratios():
                captured.extras["ffn_update_ratios"] = self.ffn.update_ratios()
            self.guard.run("dualffn_updates", captured.step, ratios)

    def fields(self, captured, model):
        self.probe.disarm()
        tables = self.probe.tables()
        ratios = captured.extras.get("ffn_update_ratios")
        if not tables or ratios is None:
            return None
        return {
            "sample": 0,
            "layers": [index for index in self.probe.layers if index in self.probe.results],
            "heads": self.probe.heads,
            **{name: _float_array(tables[name]) for name in ("text_to_audio", "audio_to_text", "target_to_reference", "entropy", "max_weight")},
            "max_weight_histogram": Array.from_numpy(tables["max_weight_histogram"].cpu().numpy().astype(np.int32)),
            "ffn_layers": self.ffn.layers,
            "text_ffn_grad_norm": _float_array(self.ffn.grad_norms["text"]),
            "audio_ffn_grad_norm": _float_array(self.ffn.grad_norms["audio"]),
            "text_ffn_update_ratio": _float_array(ratios["text"]),
            "audio_ffn_update_ratio": _float_array(ratios["audio"]),
        }


class ZeroShotLoggerCallback(_SnapshotLogger):
    """Target-audio loss with the true reference (the training forward's) vs a swapped one (one
    no-grad forward before the optimizer step, at the same weights)."""

    where, message_type = "zero_shot_snapshot", ZeroShotSnapshot

    def __init__(self, publisher, guard, scheduler):
        super().__init__(publisher, guard, scheduler)
        self.swap: ReferenceSwap | None = None
        self.collective = False

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.collective = forward_is_collective(model)

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        captured = self.scheduler.captured
        if captured is None or captured.batch is None:
            return

        def measure():
            if self.swap is None:
                self.swap = ReferenceSwap(AudioTokenIds.from_config(model.config))
            with self.scheduler.measuring():
                captured.extras["reference_swap"] = self.swap.measure(model, captured.batch, captured.layout,
                                                                      collective=self.collective)
        self.guard.run("zero_shot_swap", captured.step, measure)

    def fields(self, captured, model):
        if "reference_swap" not in captured.extras:
            return None  # the swap failed and was reported as such
        return zero_shot_snapshot_fields(captured.batch, captured.extras.get("true_reference_loss"), captured.extras["reference_swap"])
