"""The zero-shot capture's parts, each against a direct construction: the donor pool, the
reference swap (`swapped_example`) against the sample built from scratch with the donor's
clip, the per-sample target-audio loss (`target_audio_losses`) from a training forward's own
output, and the swap measurement + snapshot fields on the fixed two-speaker batch, in both
sample orders, at batch size 1 and in a batch of one speaker.

Run: `python -m pytest -q tests/trainer/test_zero_shot_capture.py` (a few seconds, no torchrun).

What a real training step sends is checked through the callbacks in test_captured_step.py; this
module pins the functions that measure it. The tiny model barely uses a reference yet, so a
swap moves the loss by ~1e-4 nats: comparisons are to float32 noise (see TOLERANCE).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stratlog.trainer.strategic.zero_shot_capture as zero_shot_capture
from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.strategic.batch_layout import batch_layout
from stratlog.trainer.strategic.zero_shot_capture import (
    Reference,
    ReferencePool,
    ReferenceSwap,
    references_of,
    swapped_example,
    target_audio_losses,
    zero_shot_snapshot_fields,
)
from tests.trainer.capture_batches import LANGUAGES, SPEAKERS, direct_output, target_audio_loss, two_speaker_batch

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


def reference(speaker: str) -> Reference:
    return Reference(speaker, "en", np.zeros(1, dtype=np.int64), np.zeros((1, 8), dtype=np.int64))


def test_the_pool_gives_the_latest_reference_of_another_speaker():
    pool = ReferencePool(capacity=2)
    assert pool.donor_for("a") is None
    pool.add(reference("a"))
    assert pool.donor_for("a") is None and pool.donor_for("b").speaker == "a"
    pool.add(reference("b"))
    pool.add(reference("c"))  # over capacity: "a", the oldest, goes
    assert pool.donor_for("c").speaker == "b" and pool.donor_for("b").speaker == "c"
    pool.add(reference("b"))  # seen again: the most recent
    assert pool.donor_for("a").speaker == "b"


def references_by_sample(built, order: list[int]) -> list[Reference]:
    batch = built.batch(order)
    return references_of(layout_of(built, batch), [SPEAKERS[i] for i in order], [LANGUAGES[i] for i in order])


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_swapped_example_is_the_sample_built_with_the_donors_reference(built, order):
    batch = built.batch(order)
    layout = layout_of(built, batch)
    references = references_by_sample(built, order)
    for row, sample in enumerate(order):
        for donor_row, donor in enumerate(order):
            swapped = swapped_example(layout, row, references[donor_row])
            expected = built.with_reference_of(sample, donor)
            assert swapped.input_ids.tolist() == expected.input_ids.tolist(), (sample, donor)
            assert swapped.labels.tolist() == expected.labels.tolist(), (sample, donor)
            assert swapped.audio_input_ids.tolist() == expected.audio_input_ids.tolist(), (sample, donor)
            assert swapped.audio_labels.tolist() == expected.audio_labels.tolist(), (sample, donor)
    assert built.with_reference_of(0, 1).input_ids.tolist() != built.examples[0].input_ids.tolist()


def test_target_audio_losses_are_each_samples_mean_over_its_labelled_entries(model, built):
    batch = built.batch()
    measured = target_audio_losses(model(**batch), 2)
    direct = direct_output(model, batch)
    assert measured.tolist() == pytest.approx([target_audio_loss(direct, row) for row in range(2)], abs=TOLERANCE)
    alone = [target_audio_loss(direct_output(model, VoiceCloningCollator(built.ids)([e])), 0) for e in built.examples]
    assert measured.tolist() == pytest.approx(alone, abs=TOLERANCE)  # padding and the batch mate change nothing


def swapped_loss_alone(model, built, sample: int, donor: int) -> float:
    return target_audio_loss(direct_output(model, VoiceCloningCollator(built.ids)([built.with_reference_of(sample, donor)])), 0)


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_snapshot_fields_hold_true_and_swapped_losses_of_each_sample(model, built, order):
    batch = built.batch(order)
    true_losses = target_audio_losses(model(**batch), 2)  # as the scheduler takes them from the training forward
    rng_before = torch.random.get_rng_state()
    model.train()
    swap = ReferenceSwap(built.ids).measure(model, batch, layout_of(built, batch))
    assert model.training and torch.equal(torch.random.get_rng_state(), rng_before)  # training's random stream untouched
    model.eval()
    fields = zero_shot_snapshot_fields(batch, true_losses, swap)
    direct = direct_output(model, batch)
    true = [target_audio_loss(direct, row) for row in range(2)]
    swapped = [swapped_loss_alone(model, built, s, 1 - s) for s in order]
    assert fields["sample_ids"] == [f"s{i}" for i in order]
    assert fields["speakers"] == [SPEAKERS[i] for i in order]
    assert fields["swapped_speakers"] == [SPEAKERS[1 - i] for i in order]
    assert fields["languages"] != fields["swapped_languages"]
    assert fields["true_reference_loss"].to_numpy() == pytest.approx(true, abs=TOLERANCE)
    assert fields["swapped_reference_loss"].to_numpy() == pytest.approx(swapped, abs=TOLERANCE)
    effect = fields["swapped_reference_loss"].to_numpy() - fields["true_reference_loss"].to_numpy()
    assert np.all(np.abs(effect) > 20 * TOLERANCE), effect


def test_batch_size_1_and_one_speaker_batches_measure_with_a_pooled_reference(model, built):
    """The first capture of one speaker has no donor (said why); later captures take the latest
    reference of another speaker from the pool, at batch size 1 and in a batch of one speaker."""
    swap = ReferenceSwap(built.ids)
    measured = []
    for examples in ([built.examples[0]], [built.examples[1]], [built.examples[0], built.examples[0]]):
        batch = VoiceCloningCollator(built.ids)(examples)
        fields = zero_shot_snapshot_fields(batch, target_audio_losses(model(**batch), len(examples)),
                                           swap.measure(model, batch, layout_of(built, batch)))
        measured.append(fields)
    first, single, one_speaker = measured
    assert first["skipped_reason"].startswith("no reference of another speaker") and first["speakers"] == []
    assert single["speakers"] == ["spk1"] and single["swapped_speakers"] == ["spk0"]
    assert single["swapped_reference_loss"].to_numpy() == pytest.approx([swapped_loss_alone(model, built, 1, 0)], abs=TOLERANCE)
    assert one_speaker["speakers"] == ["spk0", "spk0"] and one_speaker["swapped_speakers"] == ["spk1", "spk1"]
    expected = swapped_loss_alone(model, built, 0, 1)
    assert one_speaker["swapped_reference_loss"].to_numpy() == pytest.approx([expected, expected], abs=TOLERANCE)
    assert one_speaker["true_reference_loss"].to_numpy() == pytest.approx(
        [target_audio_loss(direct_output(model, VoiceCloningCollator(built.ids)([built.examples[0]])), 0)] * 2, abs=TOLERANCE)

# --- Under FSDP the zero-shot forward is a collective: every rank must run exactly one forward
# per capture, whatever its own batch allows, or the ranks that do would wait forever for the
# others. Counted with a forward hook on the real tiny model; the 2-rank FSDP runs are in
# test_sharded_training.py.


def measure_counting_forwards(model, built, examples, swap: ReferenceSwap, *, collective: bool):
    batch = VoiceCloningCollator(built.ids)(examples)
    layout = batch_layout(batch, (built.ids.audio_token, built.ids.audio_delay_token), built.ids.num_codebooks)
    inputs = []
    hook = model.register_forward_pre_hook(lambda module, args, kwargs: inputs.append(kwargs["input_ids"]), with_kwargs=True)
    try:
        return swap.measure(model, batch, layout, collective=collective), inputs, batch
    finally:
        hook.remove()


def test_a_rank_without_a_donor_still_runs_one_forward_of_its_own_batch_when_the_forward_is_collective(model, built):
    one_speaker = [built.examples[0], built.examples[0]]
    skipped, inputs, batch = measure_counting_forwards(model, built, one_speaker, ReferenceSwap(built.ids), collective=True)
    assert skipped.donors is None and skipped.skipped_reason.startswith("no reference of another speaker")
    assert len(inputs) == 1 and inputs[0].equal(batch["input_ids"])
    skipped, inputs, _ = measure_counting_forwards(model, built, one_speaker, ReferenceSwap(built.ids), collective=False)
    assert skipped.donors is None and inputs == []  # DDP: no forward needed, none run


def test_a_measured_swap_runs_exactly_one_forward(model, built):
    measured, inputs, batch = measure_counting_forwards(model, built, built.examples[:2], ReferenceSwap(built.ids), collective=True)
    assert measured.donors is not None and len(inputs) == 1 and not inputs[0].equal(batch["input_ids"])


def test_a_failing_preparation_still_joins_the_collective_then_reports(model, built, monkeypatch):
    def planted_failure(*args, **kwargs):
        raise RuntimeError("planted swap failure")

    monkeypatch.setattr(zero_shot_capture, "swapped_example", planted_failure)
    inputs = []
    hook = model.register_forward_pre_hook(lambda module, args, kwargs: inputs.append(kwargs["input_ids"]), with_kwargs=True)
    try:
        with pytest.raises(RuntimeError, match="planted swap failure"):
            measure_counting_forwards(model, built, built.examples[:2], ReferenceSwap(built.ids), collective=True)
    finally:
        hook.remove()
    assert len(inputs) == 1
