"""Input analysis on hand-built snapshots: healthy, then each fault on its own.
Run: ./run-tests tests/sink/analysis/test_input.py"""

from __future__ import annotations

import msgspec

from stratlog.sink.analysis.input import InputAnalysis
from stratlog.sink.analysis.run_context import RunContext
from tests.sink import builders
from tests.sink.builders import TOKENS, healthy_ids, input_snapshot, segments_of


def verdicts(message, context=None, analysis=None) -> dict:
    findings = (analysis or InputAnalysis()).evaluate(message, context or builders.context())
    return {finding.check: finding for finding in findings}


def test_a_healthy_input_is_ok_everywhere():
    found = verdicts(input_snapshot())
    assert {check: f.severity for check, f in found.items()} == {
        "reference_audio": "OK", "special_tokens": "OK", "truncation": "OK"}
    assert "2 audio runs" in found["special_tokens"].reason


def test_missing_reference_fails_and_names_the_sample():
    ids = healthy_ids()
    targets_only = [s for s in segments_of(ids) + segments_of(ids, sample=1) if s.role == "target"]
    found = verdicts(input_snapshot(segments=targets_only))
    assert found["reference_audio"].severity == "FAIL"
    assert "spk00_0001 has no reference audio" in found["reference_audio"].reason


def test_empty_reference_and_reference_after_target_fail():
    ids = healthy_ids()
    reference, target = segments_of(ids)
    empty = reference.__class__(sample=0, role="reference", start=reference.start, end=reference.end, frames=0)
    late = reference.__class__(sample=1, role="reference", start=target.end + 1, end=target.end + 5, frames=3)
    target_1 = target.__class__(sample=1, role="target", start=target.start, end=target.end, frames=target.frames)
    found = verdicts(input_snapshot(segments=[empty, target, late, target_1]))
    reason = found["reference_audio"].reason
    assert found["reference_audio"].severity == "FAIL"
    assert "spk00_0001 has an empty reference clip" in reason and "spk01_0002 has its reference after the target" in reason


def test_a_constant_reference_clip_fails_as_silence_and_a_speech_like_one_passes():
    ids = healthy_ids()
    segments = segments_of(ids) + segments_of(ids, sample=1)
    silent = [msgspec.structs.replace(s, repeated_code_share=0.95 if (s.sample, s.role) == (1, "reference") else 0.44)
              for s in segments]
    found = verdicts(input_snapshot(segments=silent))
    assert found["reference_audio"].severity == "FAIL"
    assert "spk01_0002's reference clip is constant: 95%" in found["reference_audio"].reason
    assert "silence" in found["reference_audio"].reason and "spk00_0001" not in found["reference_audio"].reason
    speech = [msgspec.structs.replace(s, repeated_code_share=0.44) for s in segments]
    assert verdicts(input_snapshot(segments=speech))["reference_audio"].severity == "OK"


def test_missing_delay_tokens_fail_the_structure_check():
    ids = [i for i in healthy_ids() if i != TOKENS.audio_delay]
    found = verdicts(input_snapshot(ids))
    assert found["special_tokens"].severity == "FAIL"
    assert "not followed by 7 delay tokens" in found["special_tokens"].reason


def test_missing_begin_of_text_and_audio_bos_fail():
    ids = [i for i in healthy_ids()[1:] if i != TOKENS.audio_out_bos]
    reason = verdicts(input_snapshot(ids))["special_tokens"].reason
    assert "starts with <|start_header_id|>, not <|begin_of_text|>" in reason
    assert "not preceded by <|audio_out_bos|>" in reason


def test_sequence_cut_inside_audio_is_truncated():
    ids = healthy_ids()
    cut = ids[: len(ids) - 12]  # padding, eot, audio_eos and delay tokens of the target cut away
    found = verdicts(input_snapshot(cut))
    assert found["truncation"].severity == "FAIL"
    assert "ends inside an audio segment" in found["truncation"].reason
    assert found["special_tokens"].severity == "OK"  # the cut run is the truncation check's to report


def test_sequence_without_end_of_turn_is_truncated():
    ids = healthy_ids()[:-3] + [44]
    found = verdicts(input_snapshot(ids))
    assert found["truncation"].severity == "FAIL"
    assert "instead of <|eot_id|>" in found["truncation"].reason


def test_without_a_tokenizer_the_structure_check_says_so():
    found = verdicts(input_snapshot(), RunContext(run_id="run"))
    assert found["special_tokens"].severity == "WARN" and "--tokenizer" in found["special_tokens"].reason
    assert "truncation" not in found


def test_ranks_with_the_same_samples_fail_and_different_ones_pass():
    analysis = InputAnalysis()
    assert "rank_data" not in verdicts(input_snapshot(rank=0), analysis=analysis)  # nothing to compare yet
    same = verdicts(input_snapshot(rank=1), analysis=analysis)["rank_data"]
    assert same.severity == "FAIL" and "DistributedSampler" in same.reason
    other = verdicts(input_snapshot(rank=1, step=20, sample_ids=["a", "b"]), analysis=analysis)
    assert "rank_data" not in other
    different = verdicts(input_snapshot(rank=0, step=20, sample_ids=["c", "d"]), analysis=analysis)["rank_data"]
    assert different.severity == "OK"
    partial = verdicts(input_snapshot(rank=0, step=30, sample_ids=["a", "b", "c"]), analysis=analysis)
    assert "rank_data" not in partial
    overlap = verdicts(input_snapshot(rank=1, step=30, sample_ids=["a", "b", "x"]), analysis=analysis)["rank_data"]
    assert overlap.severity == "WARN" and "67%" in overlap.reason


def test_a_data_set_smaller_than_the_global_batch_is_named_as_the_cause_of_shared_samples():
    """5 samples, 4 per rank, 2 ranks: the sampler fills each global batch of 8 by starting over, so
    rank 1 shares 3 of its 4 with rank 0. One step cannot tell this from a sampler that does not
    shard; the second step showing the same 5 samples can."""
    analysis = InputAnalysis()
    found = {}
    for step in (1, 10):
        verdicts(input_snapshot(rank=0, step=step, sample_ids=["s0", "s1", "s2", "s3"]), analysis=analysis)
        found[step] = verdicts(input_snapshot(rank=1, step=step, sample_ids=["s4", "s0", "s1", "s2"]),
                               analysis=analysis)["rank_data"]
    assert found[1].severity == "WARN" and "check that the sampler shards" in found[1].reason
    assert found[10].severity == "WARN" and "75%" in found[10].reason
    assert "the same 5 samples" in found[10].reason and "fewer samples than one global batch" in found[10].reason
    assert "4 per rank x 2 ranks = 8" in found[10].reason and "sampler shards" not in found[10].reason


def test_ranks_that_share_new_samples_every_step_still_fail_as_a_missing_sampler():
    analysis = InputAnalysis()
    for step in (1, 10, 20):
        samples = [f"s{step}-{i}" for i in range(4)]
        verdicts(input_snapshot(rank=0, step=step, sample_ids=samples), analysis=analysis)
        same = verdicts(input_snapshot(rank=1, step=step, sample_ids=samples), analysis=analysis)["rank_data"]
        assert same.severity == "FAIL" and "DistributedSampler is missing" in same.reason, step
