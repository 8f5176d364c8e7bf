"""Our loss: text and audio cross-entropy, weighted, with the per-codebook parts kept.

The audio loss is the mean of the per-codebook means (not their sum, as the stock model
returns), so the weights `text_loss_weight` / `audio_loss_weight` mean what they say. Every
loss is a mean over this micro-batch's labelled positions; `Trainer` divides by the gradient
accumulation steps itself (`loss_is_scaled_for_ga = False`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stratlog.trainer.data.sequences import IGNORE_INDEX
from stratlog.trainer.model import VoiceCloningOutput


@dataclass
class VoiceCloningLoss:
    total: torch.Tensor
    text: torch.Tensor
    audio: torch.Tensor
    per_codebook: torch.Tensor  # [num_codebooks]


def compute_loss(output: VoiceCloningOutput, text_weight: float = 1.0, audio_weight: float = 1.0) -> VoiceCloningLoss:
    text = _mean_cross_entropy(output.text_logits, output.text_targets)
    codebooks = output.audio_logits.shape[1]
    per_codebook = torch.stack(
        [_mean_cross_entropy(output.audio_logits[:, k], output.audio_targets[:, k]) for k in range(codebooks)]
    )
    audio = per_codebook.mean()
    return VoiceCloningLoss(total=text_weight * text + audio_weight * audio, text=text, audio=audio, per_codebook=per_codebook)


def _mean_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over labelled targets; 0 (still attached to the graph) when there are none, so a
    batch without labels of one kind neither yields NaN nor leaves a head without gradient."""
    summed = F.cross_entropy(logits.float(), targets, ignore_index=IGNORE_INDEX, reduction="sum")
    count = (targets != IGNORE_INDEX).sum().clamp(min=1)
    return summed / count
