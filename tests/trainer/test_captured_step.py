"""One real training step with strategic logging, in process: what the capturing callbacks send
(input, output and zero-shot snapshots) against direct computations on the same model and batch.

Run: `python -m pytest -q tests/trainer/test_captured_step.py` (about 10 s, no torchrun).

The callbacks come from `build_strategic_logging` and run inside `VoiceCloningTrainer.train`, so
the hooks, the loggers and their order are the production ones; only the publisher's `send` is
replaced by a list. The learning rate is 0, so the weights after the step (when the zero-shot
logger measures) are those of the training forward (when the output snapshot is taken), and one
direct computation serves both. The tiny checkpoint has no dropout: train and eval forwards agree.
The batch is `capture_batches`' fixed two-speaker pair (seeded codes); the Trainer's sampler may
put it in either order, so every comparison goes by the snapshot's own sample ids.
"""

from __future__ import annotations

import numpy as np
import pytest

from stratlog.protocol import ErrorEvent, InputSnapshot, OutputSnapshot, ZeroShotSnapshot
from stratlog.trainer.data.batching import VoiceCloningCollator, VoiceCloningDataset
from stratlog.trainer.strategic.arguments import StrategicLoggingArguments
from stratlog.trainer.strategic.setup import build_strategic_logging
from tests.trainer.capture_batches import (
    SPEAKERS,
    accuracy,
    direct_output,
    mean_cross_entropy,
    target_audio_loss,
    two_speaker_batch,
)

TOLERANCE = 5e-6
"""Absolute, in nats: the same target-audio loss (~6.9) from a padded batch of two and from a batch
of one differs by float32 summation order, measured at 5e-7. The untrained tiny model takes little
from a reference, but the swap still moves these losses by 2.5e-4 and 9.4e-4 (seeded codes, so
always), 50x the tolerance and more; `SWAP_EFFECT` asserts that margin."""
SWAP_EFFECT = 20 * TOLERANCE


@pytest.fixture(scope="module")
def run(demo_assets, tmp_path_factory):
    from transformers import TrainingArguments

    from stratlog.trainer.model import HiggsVoiceCloningModel
    from stratlog.trainer.voice_cloning_trainer import VoiceCloningTrainer

    built = two_speaker_batch(demo_assets)
    model = HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True)
    publisher, callbacks = build_strategic_logging(
        StrategicLoggingArguments(enable_strategic_logging=True, strategic_logging_steps=1),
        model_path=str(demo_assets.model_dir), audio_tokenizer_path=str(demo_assets.audio_tokenizer_dir))
    sent = []
    publisher.send = lambda message_type, *, step, **fields: sent.append((message_type, step, fields)) or True
    args = TrainingArguments(output_dir=str(tmp_path_factory.mktemp("captured-step")), max_steps=1,
                             per_device_train_batch_size=2, learning_rate=0.0, report_to="none", use_cpu=True,
                             save_strategy="no", logging_steps=1, disable_tqdm=True, seed=0, remove_unused_columns=False)
    trainer = VoiceCloningTrainer(model=model, args=args, train_dataset=VoiceCloningDataset(built.examples),
                                  data_collator=VoiceCloningCollator(built.ids), callbacks=callbacks)
    try:
        trainer.train()
    finally:
        publisher.close()
    assert [fields for kind, _, fields in sent if kind is ErrorEvent] == []
    snapshots = {kind: (step, fields) for kind, step, fields in sent
                 if kind in (InputSnapshot, OutputSnapshot, ZeroShotSnapshot)}
    assert {kind: step for kind, (step, _) in snapshots.items()} == {InputSnapshot: 1, OutputSnapshot: 1, ZeroShotSnapshot: 1}
    order = [int(sample_id.removeprefix("s")) for sample_id in snapshots[InputSnapshot][1]["sample_ids"]]
    return model.eval(), built, order, {kind: fields for kind, (_, fields) in snapshots.items()}


def test_the_output_snapshot_is_the_training_forward_measured_directly(run):
    model, built, order, snapshots = run
    fields = snapshots[OutputSnapshot]
    direct = direct_output(model, built.batch(order))
    codebooks = direct.audio_targets.shape[-1]
    losses = [mean_cross_entropy(direct.audio_logits[..., k, :], direct.audio_targets[..., k]) for k in range(codebooks)]
    accuracies = [accuracy(direct.audio_logits[..., k, :], direct.audio_targets[..., k]) for k in range(codebooks)]
    assert fields["codebook_losses"].to_numpy() == pytest.approx(losses, rel=1e-5)
    assert fields["codebook_accuracies"].to_numpy() == pytest.approx(accuracies, abs=1e-6)
    assert fields["audio_loss"] == pytest.approx(np.mean(losses), rel=1e-5)
    assert fields["text_loss"] == pytest.approx(mean_cross_entropy(direct.text_logits, direct.text_targets), rel=1e-5)
    assert fields["target_text_ids"].to_numpy().tolist() == \
        [label for label in built.batch(order)["labels"][0, 1:].tolist() if label != -100]


def test_zero_shot_true_and_swapped_losses_are_direct_forwards_with_each_reference(run):
    """True: each sample's target-audio loss with its own reference. Swapped: the same sample
    built again from scratch with the swapped speaker's reference clip (its own transcripts and
    target), forwarded alone. The two differ by more than float32 noise: a swap that measured the
    true reference again would read the true loss twice."""
    model, built, order, snapshots = run
    fields = snapshots[ZeroShotSnapshot]
    assert fields["sample_ids"] == [f"s{i}" for i in order]
    assert fields["speakers"] == [SPEAKERS[i] for i in order]
    assert fields["swapped_speakers"] == [SPEAKERS[1 - i] for i in order]  # the only other speaker
    direct = direct_output(model, built.batch(order))
    true = [target_audio_loss(direct, row) for row in range(len(order))]
    swapped = []
    for sample in order:
        donor = SPEAKERS.index(fields["swapped_speakers"][order.index(sample)])
        alone = VoiceCloningCollator(built.ids)([built.with_reference_of(sample, donor)])
        swapped.append(target_audio_loss(direct_output(model, alone), 0))
    measured_true = fields["true_reference_loss"].to_numpy()
    measured_swapped = fields["swapped_reference_loss"].to_numpy()
    assert measured_true == pytest.approx(true, abs=TOLERANCE)
    assert measured_swapped == pytest.approx(swapped, abs=TOLERANCE)
    assert all(abs(s - t) > SWAP_EFFECT for s, t in zip(swapped, true)), (swapped, true)
    assert all(abs(s - t) > SWAP_EFFECT for s, t in zip(measured_swapped, measured_true))


def test_the_input_snapshot_describes_the_trained_batch(run):
    _, built, order, snapshots = run
    fields = snapshots[InputSnapshot]
    batch = built.batch(order)
    assert fields["input_ids"].to_numpy().tolist() == batch["input_ids"][0].tolist()
    assert [(s.sample, s.role, s.frames) for s in fields["segments"]] == [
        (row, role, codes.shape[1]) for row, sample in enumerate(order)
        for role, codes in zip(("reference", "target"), built.codes[sample])]
    assert fields["speakers"] == [SPEAKERS[i] for i in order]
