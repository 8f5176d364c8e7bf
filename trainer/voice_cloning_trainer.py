"""`Trainer` with our loss, and the loss parts added to every log record.

The per-part losses (text, audio, and each codebook's) are accumulated as detached tensors and
turned into numbers only when `Trainer` logs: averaged over all ranks like Trainer's own `loss`
(one all-gather and one device sync per logging step). `num_items_in_batch` is not used, and
Trainer does not compute it (`HiggsVoiceCloningModel.accepts_loss_kwargs = False`): it is a count
of text labels, while our loss is a weighted sum of a text mean and per-codebook audio means with
their own counts; each micro-batch's loss is such a mean, and Trainer divides by the
gradient-accumulation steps itself (`loss_is_scaled_for_ga = False`).
"""

from __future__ import annotations

import torch
from transformers import Trainer

from stratlog.trainer.data.batching import LengthGroupedBatchSampler
from stratlog.trainer.loss import compute_loss
from stratlog.trainer.sample_ids import SampleIdRecorder


class VoiceCloningTrainer(Trainer):
    loss_is_scaled_for_ga = False  # our loss is a per-micro-batch mean; Trainer divides by GA steps

    def __init__(self, *args, text_loss_weight: float = 1.0, audio_loss_weight: float = 1.0,
                 sample_id_recorder: SampleIdRecorder | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.text_loss_weight = text_loss_weight
        self.audio_loss_weight = audio_loss_weight
        self.sample_id_recorder = sample_id_recorder
        self._part_sums: torch.Tensor | None = None  # [text, audio, codebook 0..K-1]
        self._part_count = 0

    def _get_train_sampler(self, train_dataset=None):
        """group_by_length from our data sets' own token counts (Trainer's would build every
        example to measure it), seeded per epoch."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "lengths"):
            return LengthGroupedBatchSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                             dataset.lengths, self.args.seed)
        return super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        losses = compute_loss(outputs, self.text_loss_weight, self.audio_loss_weight)
        if model.training:
            parts = torch.cat([losses.text.detach()[None], losses.audio.detach()[None], losses.per_codebook.detach()])
            self._part_sums = parts if self._part_sums is None else self._part_sums + parts
            self._part_count += 1
            if self.sample_id_recorder is not None:
                self.sample_id_recorder.record(self.state.global_step + 1, inputs["sample_meta"])
        return (losses.total, outputs) if return_outputs else losses.total

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._part_count:
            local = self._part_sums / self._part_count
            means = self.accelerator.gather(local[None]).mean(dim=0).tolist()  # all ranks' mean, as `loss`; one sync per log
            logs["text_loss"], logs["audio_loss"] = round(means[0], 4), round(means[1], 4)
            for codebook, value in enumerate(means[2:]):
                logs[f"audio_loss_codebook_{codebook}"] = round(value, 4)
            self._part_sums, self._part_count = None, 0
        super().log(logs, start_time)
