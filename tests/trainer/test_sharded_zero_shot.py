"""Under FSDP the zero-shot forward is a collective: every rank must run exactly one forward per
capture, whatever its own batch allows, or the ranks that do would wait forever for the others.
Counted here with a forward hook on the real tiny model (in process, a few seconds); the 2-rank
FSDP runs are in test_sharded_training.py."""

from __future__ import annotations

import pytest

import stratlog.trainer.strategic.zero_shot_capture as zero_shot_capture
from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.strategic.batch_layout import batch_layout
from stratlog.trainer.strategic.zero_shot_capture import ReferenceSwap
from tests.trainer.capture_batches import two_speaker_batch


@pytest.fixture(scope="module")
def model(demo_assets):
    from stratlog.trainer.model import HiggsVoiceCloningModel

    return HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True).eval()


@pytest.fixture(scope="module")
def built(demo_assets):
    return two_speaker_batch(demo_assets)


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
