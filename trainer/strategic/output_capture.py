"""The output snapshot: predictions against labels, from the training forward's own logits.

Read in a forward hook on the first micro-batch of a capture step, under no_grad, from the
logits the loss is computed from (so the snapshot describes exactly what was trained). Only
reductions and a few dozen ids per table leave the device.
"""

from __future__ import annotations

import numpy as np
import torch

from stratlog.protocol import Array
from stratlog.trainer.data.sequences import IGNORE_INDEX
from stratlog.trainer.loss import compute_loss
from stratlog.trainer.model import VoiceCloningOutput
from stratlog.trainer.strategic.batch_layout import BatchLayout
from stratlog.trainer.strategic.clip_codes import reference_codes, target_and_predicted_codes

SHOWN = 10
"""First and last SHOWN label positions (and audio frames) go into the snapshot."""


def _shown(count: int) -> np.ndarray:
    if count <= 2 * SHOWN:
        return np.arange(count)
    return np.concatenate([np.arange(SHOWN), np.arange(count - SHOWN, count)])


@torch.no_grad()
def output_snapshot_fields(output: VoiceCloningOutput, sample: int = 0, layout: BatchLayout | None = None) -> dict:
    """`layout` (the captured batch's) adds the sample's reference codes."""
    losses = compute_loss(output)
    text_predictions = output.text_logits.argmax(dim=-1)
    audio_predictions = output.audio_logits.argmax(dim=-1)  # [rows, codebooks]
    audio_valid = output.audio_targets != IGNORE_INDEX
    audio_hits = (audio_predictions == output.audio_targets) & audio_valid
    codebook_accuracy = audio_hits.sum(0).float() / audio_valid.sum(0).clamp(min=1).float()
    text_accuracy = (text_predictions == output.text_targets).float().mean() if len(text_predictions) else torch.zeros(())

    # device -> host copies below: capture steps only
    text_rows = (output.text_positions[:, 0] == sample).cpu().numpy()
    positions = output.text_positions[:, 1].cpu().numpy()[text_rows]
    labels = output.text_targets.cpu().numpy()[text_rows]
    predictions = text_predictions.cpu().numpy()[text_rows]
    audio_rows = (output.audio_positions[:, 0] == sample).cpu().numpy()
    audio_labels = output.audio_targets.cpu().numpy()[audio_rows]
    audio_predicted = audio_predictions.cpu().numpy()[audio_rows]
    shown_text, shown_frames = _shown(len(labels)), _shown(len(audio_labels))
    target_codes, predicted_codes = target_and_predicted_codes(audio_labels, audio_predicted, output.audio_logits.shape[-1] - 2)
    reference = reference_codes(layout, sample) if layout is not None else None
    return {
        "sample": sample,
        "text_loss": float(losses.text),
        "audio_loss": float(losses.audio),
        "text_accuracy": float(text_accuracy),
        "audio_accuracy": float(codebook_accuracy.mean()),
        "codebook_losses": Array.from_numpy(losses.per_codebook.float().cpu().numpy()),
        "codebook_accuracies": Array.from_numpy(codebook_accuracy.cpu().numpy()),
        "text_label_count": int(len(labels)),
        "text_positions": Array.from_numpy(positions[shown_text].astype(np.int32)),
        "text_labels": Array.from_numpy(labels[shown_text].astype(np.int32)),
        "text_predictions": Array.from_numpy(predictions[shown_text].astype(np.int32)),
        "text_match": Array.from_numpy(labels[shown_text] == predictions[shown_text]),
        "target_text_ids": Array.from_numpy(labels.astype(np.int32)),
        "predicted_text_ids": Array.from_numpy(predictions.astype(np.int32)),
        "audio_frame_count": int(len(audio_labels)),
        "audio_frames": Array.from_numpy(shown_frames.astype(np.int32)),
        "audio_labels": Array.from_numpy(audio_labels[shown_frames].T.astype(np.int32)),
        "audio_predictions": Array.from_numpy(audio_predicted[shown_frames].T.astype(np.int32)),
        "target_codes": Array.from_numpy(target_codes),
        "predicted_codes": Array.from_numpy(predicted_codes),
        **({"reference_codes": Array.from_numpy(reference)} if reference is not None else {}),
    }
