"""Our loss against a direct computation from the stock model's parts, `Trainer`'s
`num_items_in_batch` not inflating it, and every trainable parameter receiving a gradient in
batches that would leave a head or an FFN path idle (so DDP can run with
`ddp_find_unused_parameters=False`), with and without freezing and LoRA.

Run: `python -m pytest -q tests/trainer/test_loss.py` (about 10 s). Seeds are fixed: the model
is the embedded checkpoint, the codes are seeded random integers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, HiggsAudioV2ForConditionalGeneration, TrainingArguments

from stratlog.trainer.adaptation import AdaptationArguments, adapt_model
from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample
from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, SequenceBuilder
from stratlog.trainer.loss import compute_loss
from stratlog.trainer.model import HiggsVoiceCloningModel
from stratlog.trainer.voice_cloning_trainer import VoiceCloningTrainer


@pytest.fixture(scope="module")
def parts(demo_assets):
    torch.manual_seed(0)
    model = HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True)
    ids = AudioTokenIds.from_config(model.config)
    builder = SequenceBuilder(AutoTokenizer.from_pretrained(demo_assets.model_dir), ids)
    rng = np.random.default_rng(0)
    examples = []
    for index, (ref_frames, target_frames) in enumerate(((5, 7), (3, 9))):
        sample = VoiceCloningSample(f"s{index}", "spk", "en", "Speak.", "The river was calm.", AudioClip("r.wav"),
                                    "Bring the lantern <SE>[Laughter]</SE> 你好.", AudioClip("t.wav"))
        examples.append(builder.build(sample, rng.integers(0, 1024, (8, ref_frames)), rng.integers(0, 1024, (8, target_frames))))
    return model, VoiceCloningCollator(ids)(examples)


def direct_losses(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Text and audio loss from full-sequence logits of the stock parts (no gathering)."""
    hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         audio_input_ids=batch["audio_input_ids"], audio_input_ids_mask=batch["audio_input_ids_mask"]).last_hidden_state
    text = F.cross_entropy(model.text_lm_head(hidden[:, :-1]).flatten(0, 1), batch["labels"][:, 1:].flatten(), ignore_index=IGNORE_INDEX)
    codebooks, size = model.config.num_codebooks, model.config.codebook_size
    positions = (batch["input_ids"] == model.config.audio_token_id) | (batch["input_ids"] == model.config.audio_delay_token_id)
    sequence_labels = torch.full((*batch["input_ids"].shape, codebooks), IGNORE_INDEX)
    sequence_labels[positions] = batch["audio_labels"][batch["audio_input_ids_mask"]]
    audio_logits = model.audio_lm_head(hidden[:, :-1]).view(*hidden[:, :-1].shape[:2], codebooks, size)
    per_codebook = [F.cross_entropy(audio_logits[..., k, :].flatten(0, 1), sequence_labels[:, 1:, k].flatten(), ignore_index=IGNORE_INDEX)
                    for k in range(codebooks)]
    return text, torch.stack(per_codebook).mean()


def test_loss_matches_a_direct_computation_and_ignores_num_items_in_batch(parts, tmp_path):
    model, batch = parts
    model.eval()
    text, audio = direct_losses(model, batch)
    ours = compute_loss(model(**batch), text_weight=0.5, audio_weight=2.0)
    torch.testing.assert_close(ours.text, text)
    torch.testing.assert_close(ours.audio, audio)
    torch.testing.assert_close(ours.total, 0.5 * text + 2.0 * audio)
    trainer = VoiceCloningTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none"),
                                  text_loss_weight=0.5, audio_loss_weight=2.0)
    text_label_count = int((batch["labels"] != IGNORE_INDEX).sum())
    for num_items in (None, text_label_count, 1000):
        torch.testing.assert_close(trainer.compute_loss(model, dict(batch), num_items_in_batch=num_items), ours.total)


def test_loss_relates_exactly_to_transformers_higgs_loss(parts, demo_assets):
    """transformers' HiggsAudioV2ForConditionalGeneration, loaded from the same checkpoint and given
    the very `labels` / `audio_labels` our pipeline built (both use unshifted labels at input
    positions and shift inside the loss), returns the SUM of the per-codebook mean cross-entropies
    plus the text mean, where our audio loss is their MEAN. So, exactly (up to float summation order):
        stock loss == our text loss + num_codebooks * our audio loss
    at weights 1, i.e. our total + (num_codebooks - 1) * our audio loss; with only `labels` the stock
    loss is our text loss, with only `audio_labels` it is num_codebooks * our audio loss."""
    model, batch = parts
    model.eval()
    stock = HiggsAudioV2ForConditionalGeneration.from_pretrained(demo_assets.model_dir, use_text_head=True).eval()
    inputs = {name: batch[name] for name in ("input_ids", "attention_mask", "audio_input_ids", "audio_input_ids_mask")}
    ours = compute_loss(model(**batch))
    codebooks = model.config.num_codebooks
    with torch.no_grad():
        both = stock(**inputs, labels=batch["labels"], audio_labels=batch["audio_labels"]).loss
        text_only = stock(**inputs, labels=batch["labels"]).loss
        audio_only = stock(**inputs, audio_labels=batch["audio_labels"]).loss
    torch.testing.assert_close(both, ours.text + codebooks * ours.audio)
    torch.testing.assert_close(both, ours.total + (codebooks - 1) * ours.audio)
    torch.testing.assert_close(text_only, ours.text)
    torch.testing.assert_close(audio_only, codebooks * ours.audio)
    torch.testing.assert_close(audio_only, ours.per_codebook.sum())


def test_forward_builds_no_tensor_from_host_values_and_trainer_counts_no_items(parts, monkeypatch, tmp_path):
    """On a GPU every torch.tensor(...) in a forward is a host-to-device copy; the forward needs
    none. And Trainer must not count and all-gather num_items_in_batch each step for a loss that
    does not use it."""
    model, batch = parts

    def refuse(*args, **kwargs):
        raise AssertionError("torch.tensor called in the forward")
    monkeypatch.setattr(torch, "tensor", refuse)
    output = model(**batch)
    monkeypatch.undo()
    assert output.text_positions[:, 1].min() >= 1 and output.audio_positions[:, 1].min() >= 1  # targets sit one later
    trainer = VoiceCloningTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none"))
    assert trainer.model_accepts_loss_kwargs is False


def batch_variants(batch: dict) -> dict[str, dict]:
    no_text_labels = {**batch, "labels": torch.full_like(batch["labels"], IGNORE_INDEX)}
    no_audio_labels = {**batch, "audio_labels": torch.full_like(batch["audio_labels"], IGNORE_INDEX)}
    return {"full": batch, "no_text_labels": no_text_labels, "no_audio_labels": no_audio_labels}


@pytest.mark.parametrize("adaptation", [AdaptationArguments(), AdaptationArguments(freeze_text_ffn=True, freeze_embeddings=True),
                                        AdaptationArguments(freeze_audio_ffn=True, freeze_text_head=True), AdaptationArguments(use_lora=True, lora_rank=4)],
                         ids=["full", "freeze_text_ffn+embeddings", "freeze_audio_ffn+text_head", "lora"])
def test_every_trainable_parameter_gets_a_gradient(parts, demo_assets, adaptation):
    """DDP with find_unused_parameters=False needs each trainable parameter's gradient hook to fire
    on every backward; a gradient that is computed (even zeros) is exactly that."""
    _, batch = parts
    model = adapt_model(HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True), adaptation)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable, "nothing to train"
    for variant, inputs in batch_variants(batch).items():
        model.zero_grad(set_to_none=True)
        loss = compute_loss(model(**inputs)).total
        assert torch.isfinite(loss), variant
        loss.backward()
        idle = sorted(name for name, p in model.named_parameters() if p.requires_grad and p.grad is None)
        assert not idle, f"{variant}: no gradient for {idle[:5]}"
        frozen_with_grad = sorted(name for name, p in model.named_parameters() if not p.requires_grad and p.grad is not None)
        assert not frozen_with_grad, variant


def test_freeze_flags_freeze_what_they_name(demo_assets):
    model = adapt_model(HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True),
                        AdaptationArguments(freeze_text_ffn=True, freeze_text_head=True))
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert "text_lm_head.weight" in frozen and "model.layers.0.mlp.up_proj.weight" in frozen
    assert "model.layers.0.input_layernorm.weight" in frozen
    assert not any("audio_" in name or "self_attn" in name or "embed" in name for name in frozen)
