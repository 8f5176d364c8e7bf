"""The zero-shot capture's parts, each against a direct construction: the donor choice, the
reference swap (`swapped_example`) against the sample built from scratch with the donor's
clip, the per-sample target-audio loss (`target_audio_losses`), and the snapshot fields
(`zero_shot_snapshot_fields`) on the fixed two-speaker batch, in both sample orders.

Run: `python -m pytest -q tests/trainer/test_zero_shot_capture.py` (a few seconds, no torchrun).

What a real training step sends is checked through the callbacks in test_captured_step.py; this
module pins the functions that measure it. The tiny model barely uses a reference yet, so a
swap moves the loss by ~1e-4 nats: comparisons are to float32 noise (see TOLERANCE).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.strategic.batch_layout import batch_layout
from stratlog.trainer.strategic.zero_shot_capture import (
    donors,
    sample_arrays,
    swapped_example,
    target_audio_losses,
    zero_shot_snapshot_fields,
)
from tests.trainer.capture_batches import SPEAKERS, direct_output, target_audio_loss, two_speaker_batch

TOLERANCE = 5e-6
"""Absolute, nats: float32 summation order between a padded pair and one sample (measured 5e-7)."""


@pytest.fixture(scope="module")
def model(demo_assets):
    from stratlog.trainer.model import HiggsVoiceCloningModel

    return HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True).eval()


@pytest.fixture(scope="module")
def built(demo_assets):
    return two_speaker_batch(demo_assets)


def layout_of(built, batch: dict):
    ids = built.ids
    return batch_layout(batch, (ids.audio_token, ids.audio_delay_token), ids.num_codebooks)


def test_donors_are_the_next_sample_of_another_speaker():
    assert donors(["a", "b"]) == [1, 0]
    assert donors(["a", "a", "b", "c"]) == [2, 2, 3, 0]
    assert donors(["a", "a"]) is None


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_swapped_example_is_the_sample_built_with_the_donors_reference(built, order):
    batch = built.batch(order)
    layout = layout_of(built, batch)
    samples = sample_arrays(layout)
    for row, sample in enumerate(order):
        for donor_row, donor in enumerate(order):
            swapped = swapped_example(samples, layout, row, donor_row)
            expected = built.with_reference_of(sample, donor)
            assert swapped.input_ids.tolist() == expected.input_ids.tolist(), (sample, donor)
            assert swapped.labels.tolist() == expected.labels.tolist(), (sample, donor)
            assert swapped.audio_input_ids.tolist() == expected.audio_input_ids.tolist(), (sample, donor)
            assert swapped.audio_labels.tolist() == expected.audio_labels.tolist(), (sample, donor)
    assert built.with_reference_of(0, 1).input_ids.tolist() != built.examples[0].input_ids.tolist()


def test_target_audio_losses_are_each_samples_mean_over_its_labelled_entries(model, built):
    batch = built.batch()
    measured = target_audio_losses(model, {k: v for k, v in batch.items() if k != "sample_meta"})
    direct = direct_output(model, batch)
    assert measured.tolist() == pytest.approx([target_audio_loss(direct, row) for row in range(2)], abs=TOLERANCE)
    alone = [target_audio_loss(direct_output(model, VoiceCloningCollator(built.ids)([e])), 0) for e in built.examples]
    assert measured.tolist() == pytest.approx(alone, abs=TOLERANCE)  # padding and the batch mate change nothing


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_snapshot_fields_hold_true_and_swapped_losses_of_each_sample(model, built, order):
    batch = built.batch(order)
    rng_before = torch.random.get_rng_state()
    model.train()
    fields = zero_shot_snapshot_fields(model, batch, layout_of(built, batch), built.ids)
    assert model.training and torch.equal(torch.random.get_rng_state(), rng_before)  # training resumes as it was
    model.eval()
    direct = direct_output(model, batch)
    true = [target_audio_loss(direct, row) for row in range(2)]
    swapped = [target_audio_loss(direct_output(model, VoiceCloningCollator(built.ids)([built.with_reference_of(s, 1 - s)])), 0)
               for s in order]
    assert fields["sample_ids"] == [f"s{i}" for i in order]
    assert fields["speakers"] == [SPEAKERS[i] for i in order]
    assert fields["swapped_speakers"] == [SPEAKERS[1 - i] for i in order]
    assert fields["languages"] != fields["swapped_languages"]
    assert fields["true_reference_loss"].to_numpy() == pytest.approx(true, abs=TOLERANCE)
    assert fields["swapped_reference_loss"].to_numpy() == pytest.approx(swapped, abs=TOLERANCE)
    effect = fields["swapped_reference_loss"].to_numpy() - fields["true_reference_loss"].to_numpy()
    assert np.all(np.abs(effect) > 20 * TOLERANCE), effect


def test_a_batch_of_one_speaker_is_skipped_with_its_reason(model, built):
    batch = VoiceCloningCollator(built.ids)([built.examples[0], built.examples[0]])
    fields = zero_shot_snapshot_fields(model, batch, layout_of(built, batch), built.ids)
    assert fields["skipped_reason"] == "every sample of the batch has the same speaker"
    assert fields["true_reference_loss"].to_numpy().size == 0 and fields["speakers"] == []
