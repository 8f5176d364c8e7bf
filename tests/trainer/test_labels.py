"""Exact token ids and label masks of one hand-checked example, built with the real embedded
text tokenizer and the tiny checkpoint's token ids. Labels follow the original Higgs recipe
(prepare_chatml_sample + its collator): assistant content and <|eot_id|> only, one audio EOS per
codebook; the earlier rule (every text token) stays checked behind `label_all_text`.

Run: `python -m pytest -q tests/trainer/test_labels.py` (a few seconds).

The example: system "Hi.", reference transcript "Yes." with a 2-frame reference clip, target
transcript "No." with a 3-frame target clip, 8 codebooks, code value 10 * codebook + frame so
every entry of the delayed matrices can be read off by eye.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig, AutoTokenizer

from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample
from stratlog.trainer.data.sequences import AudioTokenIds, SequenceBuilder

M = -100  # masked
B, E = 1024, 1025  # stream BOS / EOS of a 1024-code codec (codebook_size 1026)
AUDIO, DELAY, AUDIO_OUT_BOS, PAD = 7, 18, 8, 1  # the tiny checkpoint's config


@pytest.fixture(scope="module")
def built(demo_assets):
    tokenizer = AutoTokenizer.from_pretrained(demo_assets.model_dir)
    ids = AudioTokenIds.from_config(AutoConfig.from_pretrained(demo_assets.model_dir))
    assert (ids.audio_token, ids.audio_delay_token, ids.audio_bos_token, ids.pad_token, ids.stream_bos, ids.stream_eos) == (
        AUDIO, DELAY, AUDIO_OUT_BOS, PAD, B, E)
    sample = VoiceCloningSample("hand_0", "spk", "en", "Hi.", "Yes.", AudioClip(Path("ref.wav")), "No.", AudioClip(Path("tgt.wav")))
    codes = lambda frames: np.array([[10 * k + t for t in range(frames)] for k in range(8)], dtype=np.int16)  # noqa: E731
    return tokenizer, ids, SequenceBuilder(tokenizer, ids).build(sample, codes(2), codes(3)), sample, codes


def test_text_ids_and_labels_are_exact(built):
    tokenizer, _, example, *_ = built
    text = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    head = text("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nHi.<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nYes.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    middle = text("<|audio_eos|><|eot_id|><|start_header_id|>user<|end_header_id|>\n\nNo.<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n")
    tail = text("<|audio_eos|><|eot_id|>")
    reference = [AUDIO] * 4 + [DELAY] * 7  # 2 frames + BOS + EOS, then 7 delay positions
    target = [AUDIO] * 5 + [DELAY] * 7
    expected_ids = head + [AUDIO_OUT_BOS] + reference + middle + [AUDIO_OUT_BOS] + target + tail
    assert example.input_ids.tolist() == expected_ids
    # Text labels: the target turn's content (<|audio_out_bos|>, <|audio_eos|>) and <|eot_id|>, nothing else:
    # the reference turn is context unless start_index says otherwise (label_reference_turn).
    expected_labels = [M] * len(head) + [M] + [M] * 11 + [M] * len(middle) + [AUDIO_OUT_BOS] + [M] * 12 + tail
    assert example.labels.tolist() == expected_labels
    assert tokenizer.convert_ids_to_tokens(tail) == ["<|audio_eos|>", "<|eot_id|>"]  # trained: the model learns to end audio
    sample, codes = built[3], built[4]
    with_reference = SequenceBuilder(tokenizer, built[1]).build(replace(sample, label_reference_turn=True), codes(2), codes(3))
    reference_turn = [AUDIO_OUT_BOS] + [M] * 11 + middle[:2] + [M] * (len(middle) - 2)  # <|audio_eos|><|eot_id|>, then the user turn
    assert with_reference.labels.tolist() == [M] * len(head) + reference_turn + [AUDIO_OUT_BOS] + [M] * 12 + tail
    # The earlier rule: every text token is its own label except audio_out_bos, audio placeholders and delay tokens.
    everything = SequenceBuilder(tokenizer, built[1], label_all_text=True).build(sample, codes(2), codes(3))
    assert everything.labels.tolist() == head + [M] + [M] * 11 + middle + [M] + [M] * 12 + tail


def test_reference_audio_is_fully_masked_and_target_keeps_one_eos_per_codebook(built):
    _, _, example, *_ = built
    reference_inputs = [  # codebook k delayed by k: BOS x (k+1), the 2 codes, EOS to the end
        [B, B, B, B, B, B, B, B],
        [0, B, B, B, B, B, B, B],
        [1, 10, B, B, B, B, B, B],
        [E, 11, 20, B, B, B, B, B],
        [E, E, 21, 30, B, B, B, B],
        [E, E, E, 31, 40, B, B, B],
        [E, E, E, E, 41, 50, B, B],
        [E, E, E, E, E, 51, 60, B],
        [E, E, E, E, E, E, 61, 70],
        [E, E, E, E, E, E, E, 71],
        [E, E, E, E, E, E, E, E],
    ]
    target_labels = [  # the target's delayed codes: stream BOS and the delay padding after each codebook's one EOS masked
        [M, M, M, M, M, M, M, M],
        [0, M, M, M, M, M, M, M],
        [1, 10, M, M, M, M, M, M],
        [2, 11, 20, M, M, M, M, M],
        [E, 12, 21, 30, M, M, M, M],
        [M, E, 22, 31, 40, M, M, M],
        [M, M, E, 32, 41, 50, M, M],
        [M, M, M, E, 42, 51, 60, M],
        [M, M, M, M, E, 52, 61, 70],
        [M, M, M, M, M, E, 62, 71],
        [M, M, M, M, M, M, E, 72],
        [M, M, M, M, M, M, M, E],
    ]
    # inputs: a masked label is the stream BOS before a codebook's codes and EOS padding after them
    target_inputs = [[value if value != M else (B if row <= codebook else E) for codebook, value in enumerate(values)]
                     for row, values in enumerate(target_labels)]
    assert example.audio_input_ids.tolist() == reference_inputs + target_inputs
    assert example.audio_labels.tolist() == [[M] * 8] * 11 + target_labels


def test_collator_masks_padding(built):
    _, ids, example, *_ = built
    short = VoiceCloningSample("hand_1", "spk", "en", "Hi.", "Yes.", AudioClip(Path("r.wav")), "No.", AudioClip(Path("t.wav")))
    one_frame = np.zeros((8, 1), dtype=np.int16)
    other = SequenceBuilder(built[0], ids).build(short, one_frame, one_frame)
    batch = VoiceCloningCollator(ids)([example, other])
    n, frames = len(other.input_ids), len(other.audio_input_ids)
    assert batch["input_ids"][1, n:].eq(PAD).all() and batch["labels"][1, n:].eq(M).all()
    assert batch["attention_mask"][1].tolist() == [1] * n + [0] * (len(example.input_ids) - n)
    assert batch["audio_labels"][1, frames:].eq(M).all() and not batch["audio_input_ids_mask"][1, frames:].any()
    assert batch["labels"][0].tolist() == example.labels.tolist()
