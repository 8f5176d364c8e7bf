"""Delay pattern and label rules of trainer/data/sequences.py on hand-checked arrays.
Run: ./run-tests tests/trainer/test_delay_pattern.py"""

import numpy as np

from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, SequenceBuilder, delay_pattern

IDS = AudioTokenIds(audio_token=50, audio_bos_token=51, audio_delay_token=52, pad_token=0, stream_bos=10, stream_eos=11, num_codebooks=3)


def test_delay_pattern_shifts_codebook_k_by_k():
    codes = np.array([[1, 2], [3, 4], [5, 6]])  # 3 codebooks, 2 frames
    assert delay_pattern(codes, IDS).T.tolist() == [
        [10, 1, 2, 11, 11, 11],
        [10, 10, 3, 4, 11, 11],
        [10, 10, 10, 5, 6, 11],
    ]


def test_target_audio_labels_keep_one_eos_per_codebook_and_mask_bos_and_delay_padding():
    frames = delay_pattern(np.array([[1, 2], [3, 4], [5, 6]]), IDS)
    labels = SequenceBuilder(tokenizer=None, ids=IDS)._audio_labels(frames)
    assert labels.T.tolist() == [
        [IGNORE_INDEX, 1, 2, 11, IGNORE_INDEX, IGNORE_INDEX],
        [IGNORE_INDEX, IGNORE_INDEX, 3, 4, 11, IGNORE_INDEX],
        [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 5, 6, 11],
    ]


def test_text_labels_never_include_audio_placeholders_delay_or_padding():
    builder = SequenceBuilder(tokenizer=None, ids=IDS)
    assert [builder._text_label(t, True) for t in (7, 50, 51, 52, 0, 11)] == [7, IGNORE_INDEX, 51, IGNORE_INDEX, IGNORE_INDEX, 11]
    assert [builder._text_label(t, False) for t in (7, 51, 11)] == [IGNORE_INDEX] * 3  # outside a trained assistant turn
    everything = SequenceBuilder(tokenizer=None, ids=IDS, label_all_text=True)  # the earlier rule also masked audio_out_bos
    assert [everything._text_label(t, True) for t in (7, 50, 51, 52, 0, 11)] == [7] + [IGNORE_INDEX] * 4 + [11]
