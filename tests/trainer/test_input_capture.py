"""The input snapshot's fields (`input_snapshot_fields`) against the batch they describe: tensor
table, the first sample's ids, every clip's segment (sample, role, token span, codec frames,
repeated-code share) and the sample ids, speakers and languages.

Run: `python -m pytest -q tests/trainer/test_input_capture.py` (a few seconds, no model).

The expected segments come from the clip lengths the samples were built with and from the token
ids, not from `BatchLayout`; both sample orders are checked so that a table read from the wrong
row shows.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.strategic.batch_layout import batch_layout
from stratlog.trainer.strategic.input_capture import input_snapshot_fields
from tests.trainer.capture_batches import CLIP_FRAMES, LANGUAGES, SPEAKERS, audio_positions, two_speaker_batch


@pytest.fixture(scope="module")
def built(demo_assets):
    return two_speaker_batch(demo_assets)


def expected_segments(built, order: list[int], batch: dict) -> list[tuple]:
    """(sample, role, start, end, frames, share) per clip, from the ids and the codes used."""
    ids = built.ids
    segments = []
    for row, sample in enumerate(order):
        positions = audio_positions(batch["input_ids"][row].numpy(), int(batch["attention_mask"][row].sum()), ids)
        runs = np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1)
        assert len(runs) == 2
        for role, run, codes in zip(("reference", "target"), runs, built.codes[sample]):
            frames = codes.shape[1]
            assert len(run) == frames + 2 + ids.num_codebooks - 1  # stream BOS / EOS, delay tokens
            share = np.unique(codes[0], return_counts=True)[1].max() / frames
            segments.append((row, role, int(run[0]), int(run[-1]) + 1, frames, round(float(share), 4)))
    return segments


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_segments_frames_and_ids_describe_the_batch(built, order):
    batch = built.batch(order)
    config_ids = built.ids
    layout = batch_layout(batch, (config_ids.audio_token, config_ids.audio_delay_token), config_ids.num_codebooks)
    fields = input_snapshot_fields(batch, layout)

    segments = [(s.sample, s.role, s.start, s.end, s.frames, s.repeated_code_share) for s in fields["segments"]]
    assert segments == expected_segments(built, order, batch)
    assert [s[4] for s in segments] == [frames for sample in order for frames in CLIP_FRAMES[sample]]
    assert fields["input_ids"].to_numpy().tolist() == batch["input_ids"][0].tolist()
    assert fields["sample_ids"] == [f"s{i}" for i in order]
    assert fields["speakers"] == [SPEAKERS[i] for i in order]
    assert fields["languages"] == [LANGUAGES[i] for i in order]
    tensors = {t.name: (t.shape, t.dtype) for t in fields["tensors"]}
    assert tensors == {name: (list(value.shape), str(value.dtype).removeprefix("torch."))
                       for name, value in batch.items() if name != "sample_meta"}
    assert tensors["input_ids"][0] == [2, max(len(e.input_ids) for e in built.examples)]


def test_a_constant_reference_reads_its_repeated_code_share(built):
    """Codebook 0 of sample 1's reference holds one code in 18 of its 20 frames: share 0.9."""
    codes = built.codes[1][0].copy()
    codes[0] = [7] * 18 + [8, 9]
    example = built.builder.build(built.samples[1], codes, built.codes[1][1])
    batch = VoiceCloningCollator(built.ids)([built.examples[0], example])
    ids = built.ids
    fields = input_snapshot_fields(batch, batch_layout(batch, (ids.audio_token, ids.audio_delay_token), ids.num_codebooks))
    assert [(s.sample, s.role, s.repeated_code_share) for s in fields["segments"]][2] == (1, "reference", 0.9)


def test_each_reference_segment_carries_its_samples_pair_similarity_through_the_collator(built):
    """The prepared examples' pair check scores reach the reference segments of their own rows;
    target segments and examples prepared without the check stay -1 (not measured)."""
    scored = dataclasses.replace(built.examples[1], pair_similarity=0.42)
    batch = VoiceCloningCollator(built.ids)([built.examples[0], scored])
    ids = built.ids
    fields = input_snapshot_fields(batch, batch_layout(batch, (ids.audio_token, ids.audio_delay_token), ids.num_codebooks))
    assert [(s.sample, s.role, s.pair_similarity) for s in fields["segments"]] == [
        (0, "reference", -1.0), (0, "target", -1.0), (1, "reference", 0.42), (1, "target", -1.0)]
