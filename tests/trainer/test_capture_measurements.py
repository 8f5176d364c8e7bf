"""Attention statistics and DualFFN norms against direct computations on the tiny model.
Run: ./run-tests tests/trainer/test_capture_measurements.py

The batch is built from the embedded tokenizer with random codec codes (seeded), two samples
of different lengths so that padding is exercised."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.samples import VoiceCloningSample
from stratlog.trainer.data.sequences import AudioTokenIds, SequenceBuilder
from stratlog.trainer.loss import compute_loss
from stratlog.trainer.strategic.attention_capture import AttentionProbe, attention_statistics
from stratlog.trainer.strategic.batch_layout import batch_layout
from stratlog.trainer.strategic.dualffn_capture import DualFfnProbe
from stratlog.trainer.strategic.input_capture import repeated_code_shares

TOLERANCE = 1e-5
"""float32 softmax of the same logits computed in a different order: agreement to ~1e-6."""


@pytest.fixture(scope="module")
def model_and_batch(demo_assets):
    from transformers import AutoTokenizer

    from stratlog.trainer.model import HiggsVoiceCloningModel

    torch.manual_seed(0)
    model = HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(demo_assets.model_dir)
    ids = AudioTokenIds.from_config(model.config)
    builder = SequenceBuilder(tokenizer, ids)
    rng = np.random.default_rng(0)
    examples = []
    for index, (ref_frames, target_frames) in enumerate([(30, 40), (20, 25)]):
        sample = VoiceCloningSample(f"s{index}", f"spk{index}", "en", "Speak.", "a short reference line",
                                    None, "the words to say", None)
        examples.append(builder.build(sample, rng.integers(0, 1024, (8, ref_frames)), rng.integers(0, 1024, (8, target_frames))))
    batch = VoiceCloningCollator(ids)(examples)
    batch.pop("sample_meta")
    return model, batch


def test_attention_statistics_match_eager_attention_weights(model_and_batch):
    model, batch = model_and_batch
    config = model.config
    layout = batch_layout(batch, (config.audio_token_id, config.audio_delay_token_id), config.num_codebooks)
    sample = 1  # the padded one
    masks = {name: torch.from_numpy(mask) for name, mask in layout.position_masks(sample).items()}
    probe = AttentionProbe(model, layers=[0, 3], heads=[0, 2, 3])
    probe.arm(sample, masks)
    with torch.no_grad():
        eager = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            audio_input_ids=batch["audio_input_ids"], audio_input_ids_mask=batch["audio_input_ids_mask"],
                            output_attentions=True)
    probe.disarm()
    measured = probe.tables()
    valid = masks["valid"]
    for row, layer in enumerate([0, 3]):
        weights = eager.attentions[layer][sample][[0, 2, 3]][:, valid][:, :, valid]
        reference = attention_statistics(weights, {name: mask[valid] for name, mask in masks.items()})
        for name, values in reference.items():
            assert torch.allclose(measured[name][row].float(), values.float(), atol=TOLERANCE, equal_nan=True), name
    assert float(measured["text_to_audio"].min()) > 0  # the sample has audio, so text queries after it see some


def test_dualffn_grad_norms_and_update_ratios_match_direct_computation(model_and_batch):
    model, batch = model_and_batch
    model.train()
    probe = DualFfnProbe(model)
    model.zero_grad()
    compute_loss(model(**batch)).total.backward()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    probe.before_optimizer_step()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    ratios = probe.update_ratios()
    layers = model.model.layers
    for path, attribute in (("text", "mlp"), ("audio", "audio_mlp")):
        for row, layer in enumerate(layers):
            params = dict(getattr(layer, attribute).named_parameters())
            grad = torch.sqrt(sum((p.grad.float() ** 2).sum() for p in params.values()))
            prefix = f"model.layers.{row}.{attribute}."
            change = torch.sqrt(sum(((p.detach() - before[prefix + n]) ** 2).sum() for n, p in params.items()))
            size = torch.sqrt(sum((before[prefix + n] ** 2).sum() for n in params))
            assert torch.allclose(probe.grad_norms[path][row], grad, rtol=1e-5), (path, row)
            assert torch.allclose(ratios[path][row], change / size, rtol=1e-5), (path, row)
            assert float(grad) > 0 and float(change) > 0


def test_repeated_code_shares_read_each_clips_own_codebook_0_codes(demo_assets):
    """The share is computed from exactly the clip's codec frames (no BOS, EOS or delay rows, no
    padding): a reference whose codebook 0 holds one code in 27 of 30 frames reads 0.9."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(demo_assets.model_dir)
    ids = AudioTokenIds.from_config(config)
    builder = SequenceBuilder(AutoTokenizer.from_pretrained(demo_assets.model_dir), ids)
    rng = np.random.default_rng(1)
    constant = rng.integers(0, 1024, (8, 30))
    constant[0] = [5] * 27 + [1, 2, 3]
    clips = [(constant, rng.integers(0, 1024, (8, 40))), (rng.integers(0, 1024, (8, 20)), rng.integers(0, 1024, (8, 25)))]
    examples = [builder.build(VoiceCloningSample(f"s{i}", f"spk{i}", "en", "Speak.", "a line", None, "words", None), ref, target)
                for i, (ref, target) in enumerate(clips)]
    batch = VoiceCloningCollator(ids)(examples)
    layout = batch_layout(batch, (config.audio_token_id, config.audio_delay_token_id), config.num_codebooks)
    expected = [np.unique(codes[0], return_counts=True)[1].max() / codes.shape[1] for pair in clips for codes in pair]
    assert [(c.sample, c.role) for c in layout.clips] == [(0, "reference"), (0, "target"), (1, "reference"), (1, "target")]
    assert repeated_code_shares(layout) == pytest.approx(expected)
    assert expected[0] == pytest.approx(0.9)
