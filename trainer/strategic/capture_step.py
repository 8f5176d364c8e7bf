"""`CaptureScheduler`: decides which optimizer steps are captured and catches their batch.

Step 1 and every N optimizer steps are captured (N = --strategic_logging_steps, validated where
the flag is parsed). It arms at `on_step_begin` when the step about to run (labelled with its
post-step global_step) is a capture step, and a forward pre-hook / forward hook on the model take the
first training micro-batch of that step and its output — once per optimizer step whatever
the gradient accumulation. On other steps the hooks cost one boolean test. The loggers read
`captured` in their own callbacks; listeners hear about the batch before the forward runs
(the attention probe needs the position masks then).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from transformers import TrainerCallback

from stratlog.trainer.strategic.batch_layout import BatchLayout, batch_layout
from stratlog.trainer.strategic.guard import CaptureGuard
from stratlog.trainer.strategic.output_capture import output_snapshot_fields
from stratlog.trainer.strategic.zero_shot_capture import target_audio_losses


@dataclass
class CapturedStep:
    step: int
    batch: dict | None = None
    layout: BatchLayout | None = None
    output_fields: dict | None = None
    extras: dict = field(default_factory=dict)


class CaptureScheduler(TrainerCallback):
    def __init__(self, interval: int, guard: CaptureGuard, *, capturing_rank: bool):
        self.interval, self.guard, self.capturing_rank = interval, guard, capturing_rank
        self.captured: CapturedStep | None = None
        self.armed = False
        self.tokens_seen = 0
        """Input positions (padding included) of every training forward: shape only, no sync."""
        self.batch_listeners: list[Callable[[CapturedStep], None]] = []
        self._hooks = []
        self._audio_ids: tuple[int, int] = (0, 0)
        self._num_codebooks = 0
        self._measuring = False

    def is_capture_step(self, step: int) -> bool:
        """`step` is the global_step the optimizer step will have once it is done."""
        return self.capturing_rank and (step == 1 or (step > 0 and step % self.interval == 0))

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        config = model.config
        self._audio_ids = (config.audio_token_id, config.audio_delay_token_id)
        self._num_codebooks = config.num_codebooks
        self._hooks = [
            model.register_forward_pre_hook(self._before_forward, with_kwargs=True),
            model.register_forward_hook(self._after_forward, with_kwargs=True),
        ]

    def on_step_begin(self, args, state, control, **kwargs):
        upcoming = state.global_step + 1
        self.captured = CapturedStep(upcoming) if self.is_capture_step(upcoming) else None
        self.armed = self.captured is not None

    @contextmanager
    def measuring(self):
        """A capture's own forward (the zero-shot swap) runs in the model's training mode; inside
        this the hooks ignore it: it is not a training micro-batch and its tokens were not trained."""
        self._measuring = True
        try:
            yield
        finally:
            self._measuring = False

    def _before_forward(self, module, args, kwargs):
        if self._measuring:
            return None
        if module.training and "input_ids" in kwargs:
            self.tokens_seen += kwargs["input_ids"].numel()
        if not (self.armed and module.training):
            return None
        captured = self.captured

        def take_batch():
            captured.batch = kwargs
            captured.layout = batch_layout(kwargs, self._audio_ids, self._num_codebooks)
            for listener in self.batch_listeners:
                listener(captured)
        self.guard.run("batch_capture", captured.step, take_batch)
        return None

    def _after_forward(self, module, args, kwargs, output):
        if self._measuring or not (self.armed and module.training):
            return None
        self.armed = False  # first micro-batch of the step only
        captured = self.captured
        if hasattr(output, "audio_logits") and output.audio_logits is not None:
            def take_output():
                captured.output_fields = output_snapshot_fields(output, layout=captured.layout)
                # the zero-shot logger's true-reference losses: these very logits, no extra forward
                captured.extras["true_reference_loss"] = target_audio_losses(output, len(kwargs["input_ids"]))
            self.guard.run("output_capture", captured.step, take_output)
        return None

    def on_train_end(self, args, state, control, **kwargs):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
