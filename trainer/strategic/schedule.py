"""When to capture: step 1 and every N optimizer steps, labelled with the post-step global_step."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaptureSchedule:
    interval: int
    """N = --strategic_logging_steps."""

    def __post_init__(self):
        if self.interval < 1:
            raise ValueError(f"CaptureSchedule.interval must be >= 1, got {self.interval}")

    def is_capture_step(self, step: int) -> bool:
        """`step` is the global_step the optimizer step will have once it is done."""
        return step == 1 or (step > 0 and step % self.interval == 0)
