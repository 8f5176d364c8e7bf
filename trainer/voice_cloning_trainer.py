"""`Trainer` with our loss, and the loss parts added to every log record.

The per-part losses are accumulated as detached tensors and turned into numbers only when
`Trainer` logs (one `.item()` per value per logging step: each is a device sync).
"""

from __future__ import annotations

import torch
from transformers import Trainer

from trainer.loss import compute_loss


class VoiceCloningTrainer(Trainer):
    loss_is_scaled_for_ga = False  # our loss is a per-micro-batch mean; Trainer divides by GA steps

    def __init__(self, *args, text_loss_weight: float = 1.0, audio_loss_weight: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.text_loss_weight = text_loss_weight
        self.audio_loss_weight = audio_loss_weight
        self._part_sums: dict[str, torch.Tensor] = {}
        self._part_count = 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        losses = compute_loss(outputs, self.text_loss_weight, self.audio_loss_weight)
        if model.training:
            for name, value in (("text_loss", losses.text), ("audio_loss", losses.audio)):
                detached = value.detach()
                self._part_sums[name] = self._part_sums[name] + detached if name in self._part_sums else detached
            self._part_count += 1
        return (losses.total, outputs) if return_outputs else losses.total

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._part_count:
            for name, total in self._part_sums.items():
                logs[name] = round((total / self._part_count).item(), 4)  # .item(): device sync, once per log
            self._part_sums, self._part_count = {}, 0
        super().log(logs, start_time)
