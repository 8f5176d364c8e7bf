"""The Higgs Audio v2 model with the outputs our own loss needs.

`HiggsAudioV2ForConditionalGeneration.forward` returns audio logits only and sums its losses
in a way that `Trainer`'s `num_items_in_batch` inflates (see the notes). This subclass keeps
the real model (same weights, same `from_pretrained` / `save_pretrained`) and returns logits
only at the positions that carry a label, already aligned with their targets: the text head
never materialises [batch, length, vocab] for the full-size 128k vocabulary, and the loss,
the output snapshot and the metrics all read the same tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import HiggsAudioV2ForConditionalGeneration
from transformers.utils import ModelOutput

from stratlog.trainer.data.sequences import IGNORE_INDEX


@dataclass
class VoiceCloningOutput(ModelOutput):
    """Logits gathered at labelled positions (shifted: position p predicts token p + 1)."""

    text_logits: torch.Tensor | None = None  # [N_text, vocab]
    text_targets: torch.Tensor | None = None  # [N_text]
    text_positions: torch.Tensor | None = None  # [N_text, 2] (row, position of the target)
    audio_logits: torch.Tensor | None = None  # [N_audio, num_codebooks, codebook_size]
    audio_targets: torch.Tensor | None = None  # [N_audio, num_codebooks], IGNORE_INDEX where masked
    audio_positions: torch.Tensor | None = None  # [N_audio, 2]


def _target_positions(selected: torch.Tensor) -> torch.Tensor:
    """(row, position of the target) of each selected logit position: the target sits one
    position later. Shifted in place on the device (no host-to-device copy of a constant)."""
    positions = selected.nonzero()
    positions[:, 1] += 1
    return positions


class HiggsVoiceCloningModel(HiggsAudioV2ForConditionalGeneration):
    """Load with `from_pretrained(path, use_text_head=True)` (the text head is needed), or for
    training with `for_training`."""

    accepts_loss_kwargs = False
    """Tells `Trainer` not to count and all-gather `num_items_in_batch` every step (a collective
    and a device sync): it counts text labels only, while our loss weighs a text mean and per-codebook
    audio means whose counts differ, so one count could not normalise it (see `trainer/loss.py`)."""

    @classmethod
    def for_training(cls, model_path: str, *, pure_bf16: bool = False) -> "HiggsVoiceCloningModel":
        """The checkpoint as fp32 master weights, whatever dtype it is stored in: transformers 5
        loads a checkpoint in its stored dtype, and a bf16 checkpoint (real Higgs checkpoints are
        bf16) would then train with bf16 weights and bf16 AdamW state, where an update smaller than
        half a bf16 step rounds away (at lr 2e-5 norm weights of 1.0 never move). `--bf16` adds
        autocast on top, so the matmuls still run in bf16. `pure_bf16` keeps bf16 weights on purpose
        (half the memory of weights + gradients + AdamW state)."""
        return cls.from_pretrained(model_path, use_text_head=True, dtype=torch.bfloat16 if pure_bf16 else torch.float32)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        audio_input_ids: torch.LongTensor | None = None,
        audio_input_ids_mask: torch.BoolTensor | None = None,
        labels: torch.LongTensor | None = None,
        audio_labels: torch.LongTensor | None = None,
        sample_meta: list[dict] | None = None,  # carried for strategic capture; unused here
        **kwargs,
    ) -> VoiceCloningOutput:
        if self.text_lm_head is None:
            raise ValueError("HiggsVoiceCloningModel needs the text head: load it with use_text_head=True")
        hidden = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            audio_input_ids=audio_input_ids,
            audio_input_ids_mask=audio_input_ids_mask,
            **kwargs,
        ).last_hidden_state
        output = VoiceCloningOutput()
        if labels is not None:
            text_targets = labels[:, 1:]
            selected = text_targets != IGNORE_INDEX
            output.text_logits = self.text_lm_head(hidden[:, :-1][selected])
            output.text_targets = text_targets[selected]
            output.text_positions = _target_positions(selected)
        if audio_labels is not None:
            codebooks = self.config.num_codebooks
            audio_positions = self.model.get_placeholder_mask(input_ids, None, None)
            sequence_labels = audio_labels.new_full((*input_ids.shape, codebooks), IGNORE_INDEX)
            sequence_labels[audio_positions] = audio_labels[audio_input_ids_mask]
            audio_targets = sequence_labels[:, 1:]
            selected = (audio_targets != IGNORE_INDEX).any(dim=-1)
            logits = self.audio_lm_head(hidden[:, :-1][selected])
            output.audio_logits = logits.view(logits.shape[0], codebooks, self.config.codebook_size)
            output.audio_targets = audio_targets[selected]
            output.audio_positions = _target_positions(selected)
        return output
