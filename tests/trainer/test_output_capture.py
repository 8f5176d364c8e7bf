"""The output snapshot's numbers (`output_snapshot_fields`) against direct computations: losses and
accuracies per codebook over the unmasked (frame, codebook) entries only, text loss and accuracy,
and the first sample's label and prediction tables.

Run: `python -m pytest -q tests/trainer/test_output_capture.py` (a few seconds, no torchrun).

The tiny embedded model guesses almost nothing right, so an accuracy computed wrongly would
still read 0; the labels are therefore rigged: on every other unmasked entry the label is set to
what the model predicts there (labels select and score positions, they do not enter the forward,
so the logits stay the same), which puts every accuracy near 1/2 and makes the denominator count.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stratlog.trainer.data.sequences import IGNORE_INDEX
from stratlog.trainer.model import VoiceCloningOutput
from stratlog.trainer.strategic.batch_layout import batch_layout
from stratlog.trainer.strategic.output_capture import output_snapshot_fields
from tests.trainer.capture_batches import accuracy, audio_positions, direct_output, mean_cross_entropy, two_speaker_batch

TOLERANCE = 1e-5
"""float32 cross-entropy of the same logits summed in another order agrees to ~1e-6 relative."""


@pytest.fixture(scope="module")
def model(demo_assets):
    from stratlog.trainer.model import HiggsVoiceCloningModel

    return HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True).eval()


@pytest.fixture(scope="module")
def rigged(model, demo_assets):
    """The two-speaker batch with half of its unmasked labels set to the model's own predictions.
    Every text token is labelled (label_all_text): the original recipe's three text labels per
    sample would not exercise the first/last-10 tables."""
    batch = two_speaker_batch(demo_assets, label_all_text=True).batch()
    direct = direct_output(model, batch)
    ids = two_speaker_batch(demo_assets).ids
    labels, audio_labels = batch["labels"].clone(), batch["audio_labels"].clone()
    text_predictions = direct.text_logits.argmax(-1)
    for b in range(len(labels)):
        for position in np.flatnonzero(labels[b, 1:].numpy() != IGNORE_INDEX)[::2]:
            labels[b, position + 1] = text_predictions[b, position]
        positions = audio_positions(batch["input_ids"][b].numpy(), int(batch["attention_mask"][b].sum()), ids)
        for row, position in enumerate(positions):
            for k in range(audio_labels.shape[2]):
                if audio_labels[b, row, k] != IGNORE_INDEX and (row + k) % 2 == 0:
                    audio_labels[b, row, k] = direct.audio_logits[b, position - 1, k].argmax()
    return {**batch, "labels": labels, "audio_labels": audio_labels}


def test_losses_and_accuracies_per_codebook_count_unmasked_entries_only(model, rigged):
    with torch.no_grad():
        fields = output_snapshot_fields(model(**rigged))
    direct = direct_output(model, rigged)
    codebooks = direct.audio_targets.shape[-1]
    losses = [mean_cross_entropy(direct.audio_logits[..., k, :], direct.audio_targets[..., k]) for k in range(codebooks)]
    accuracies = [accuracy(direct.audio_logits[..., k, :], direct.audio_targets[..., k]) for k in range(codebooks)]
    # The check has teeth: rows that carry some label also hold masked entries (the delay
    # pattern's corners), so averaging over those rows instead of the unmasked entries differs.
    scored_rows = (direct.audio_targets != IGNORE_INDEX).any(-1)
    assert ((direct.audio_targets == IGNORE_INDEX) & scored_rows[..., None]).sum() > 0
    assert all(0.3 < value < 0.7 for value in accuracies), accuracies

    assert fields["codebook_losses"].to_numpy() == pytest.approx(losses, rel=TOLERANCE)
    assert fields["codebook_accuracies"].to_numpy() == pytest.approx(accuracies, abs=1e-6)
    assert fields["audio_loss"] == pytest.approx(np.mean(losses), rel=TOLERANCE)
    assert fields["audio_accuracy"] == pytest.approx(np.mean(accuracies), abs=1e-6)
    assert fields["text_loss"] == pytest.approx(mean_cross_entropy(direct.text_logits, direct.text_targets), rel=TOLERANCE)
    assert fields["text_accuracy"] == pytest.approx(accuracy(direct.text_logits, direct.text_targets), abs=1e-6)
    assert 0.3 < fields["text_accuracy"] < 0.7


def test_first_sample_tables_hold_its_labels_and_predictions(model, rigged):
    with torch.no_grad():
        fields = output_snapshot_fields(model(**rigged))
    direct = direct_output(model, rigged)
    labelled = np.flatnonzero(direct.text_targets[0].numpy() != IGNORE_INDEX)
    labels = direct.text_targets[0].numpy()[labelled]
    predictions = direct.text_logits[0].argmax(-1).numpy()[labelled]
    shown = np.r_[0:10, len(labelled) - 10:len(labelled)]
    assert len(labelled) > 20  # first and last 10 are a strict subset
    assert fields["sample"] == 0 and fields["text_label_count"] == len(labelled)
    assert fields["target_text_ids"].to_numpy().tolist() == labels.tolist()
    assert fields["predicted_text_ids"].to_numpy().tolist() == predictions.tolist()
    assert fields["text_positions"].to_numpy().tolist() == (labelled + 1)[shown].tolist()  # the target's own position
    assert fields["text_labels"].to_numpy().tolist() == labels[shown].tolist()
    assert fields["text_predictions"].to_numpy().tolist() == predictions[shown].tolist()
    assert fields["text_match"].to_numpy().tolist() == (labels == predictions)[shown].tolist()

    scored = np.flatnonzero((direct.audio_targets[0] != IGNORE_INDEX).any(-1).numpy())
    frames = np.r_[0:10, len(scored) - 10:len(scored)]
    assert fields["audio_frame_count"] == len(scored) == 40 + 1 + 7  # target frames + stream EOS + delay rows
    assert fields["audio_frames"].to_numpy().tolist() == frames.tolist()
    assert fields["audio_labels"].to_numpy().tolist() == direct.audio_targets[0].numpy()[scored][frames].T.tolist()
    assert fields["audio_predictions"].to_numpy().tolist() == \
        direct.audio_logits[0].argmax(-1).numpy()[scored][frames].T.tolist()


def test_perfect_predictions_read_1_in_every_codebook_whatever_is_masked():
    """Synthetic output, 6 frames x 3 codebooks, codebook k masked in its first k frames (the
    delay pattern's shape): every unmasked entry predicted right is accuracy 1.0 everywhere."""
    frames, codebooks, size = 6, 3, 5
    targets = torch.arange(frames * codebooks).view(frames, codebooks) % size
    for k in range(codebooks):
        targets[:k, k] = IGNORE_INDEX
    logits = torch.zeros(frames, codebooks, size)
    logits.scatter_(-1, targets.clamp(min=0)[..., None], 2.0)
    logits[0, 1:] = torch.tensor([0.0, 0, 0, 0, 9])  # masked entries: whatever the model says
    output = VoiceCloningOutput(
        text_logits=torch.tensor([[0.0, 5.0], [5.0, 0.0]]), text_targets=torch.tensor([1, 1]),
        text_positions=torch.tensor([[0, 3], [0, 4]]), audio_logits=logits, audio_targets=targets,
        audio_positions=torch.stack([torch.zeros(frames, dtype=torch.long), torch.arange(10, 10 + frames)], 1))
    fields = output_snapshot_fields(output)
    assert fields["codebook_accuracies"].to_numpy().tolist() == [1.0, 1.0, 1.0]
    assert fields["audio_accuracy"] == 1.0
    assert fields["text_accuracy"] == 0.5
    assert fields["codebook_losses"].to_numpy() == pytest.approx([np.log1p((size - 1) * np.exp(-2.0))] * 3, rel=1e-6)
    assert fields["audio_labels"].to_numpy().tolist() == targets.T.tolist()


def test_whole_clip_codes_are_the_samples_own_codes_without_the_delay(model, demo_assets):
    """target_codes / reference_codes are the very codes sample 0 was built from (both orders of the
    batch, so a table read from the wrong row shows); predicted_codes are the argmax at the target's
    code rows, codebook by codebook."""
    built = two_speaker_batch(demo_assets)
    for order in ([0, 1], [1, 0]):
        batch = built.batch(order)
        ids = built.ids
        layout = batch_layout(batch, (ids.audio_token, ids.audio_delay_token), ids.num_codebooks)
        with torch.no_grad():
            output = model(**batch)
            fields = output_snapshot_fields(output, layout=layout)
        reference, target = built.codes[order[0]]
        assert fields["target_codes"].to_numpy().tolist() == target.tolist()
        assert fields["reference_codes"].to_numpy().tolist() == reference.tolist()
        rows = (output.audio_positions[:, 0] == 0).numpy()
        labels, predicted = output.audio_targets.numpy()[rows], output.audio_logits.argmax(-1).numpy()[rows]
        expected = [predicted[(labels[:, k] >= 0) & (labels[:, k] < output.audio_logits.shape[-1] - 2), k]
                    for k in range(ids.num_codebooks)]
        assert fields["predicted_codes"].to_numpy().tolist() == [codes.tolist() for codes in expected]
    assert "reference_codes" not in output_snapshot_fields(output)  # no layout: the protocol's default, [0]
