"""Structured fuzzing, short run: real frames mutated one field at a time (type, dtype, shape,
length, range, key, content) through the decoder, then through the whole sink pipeline with a
dashboard model; only counted rejections may come out, and memory levels off.

The frames the pipeline could not handle although the decoder accepts them were sink bugs, found
by this fuzzer; each is kept below as a regression test, fixed in sink/. bench/bench_fuzz.py runs
100 000.

Run: python -m pytest tests/protocol/test_structured_fuzz.py -q   (about 15 s)
"""

from __future__ import annotations

import math

import msgpack
import pytest

from stratlog.pipeline_fuzz import fuzz_decoder, fuzz_pipeline, seed_frames
from stratlog.protocol import encode, kind_of
from stratlog.protocol.examples import example_messages
from stratlog.protocol.mutations import OPERATORS, FrameMutator
from stratlog.sink.pipeline import SinkPipeline

SEED = 16
FRAMES = seed_frames()
MEMORY_BOUND = 32 * 1024 * 1024


def test_mutations_are_reproducible_and_use_every_operator() -> None:
    first = [m.frame for m in FrameMutator(FRAMES, SEED).mutations(200)]
    assert first == [m.frame for m in FrameMutator(FRAMES, SEED).mutations(200)]
    assert {m.operator for m in FrameMutator(FRAMES, SEED).mutations(500)} == set(OPERATORS)


def test_only_protocol_errors_come_out_of_the_decoder() -> None:
    result = fuzz_decoder(FRAMES, 5_000, SEED)
    assert not result.escapes, [escape.describe() for escape in result.escapes[:5]]
    assert result.decoded > 500  # mutants that stay valid reach the analyses below
    assert {"InvalidMessage", "InvalidArray", "LimitExceeded", "UnknownKind"} <= set(result.rejections)


def test_the_sink_pipeline_only_counts_rejections_and_its_memory_levels_off(tmp_path) -> None:
    result = fuzz_pipeline(FRAMES, 2_000, SEED, tmp_path)
    assert not result.escapes, [escape.describe() for escape in result.escapes[:5]]
    refused = result.mutations - result.decoded
    assert result.counted_bad_frames == refused == sum(result.rejections.values())
    errors = result.analysis_errors
    assert not errors, [escape.describe() + "\n" + escape.traceback for escape in errors[:3]]
    assert result.peak_bytes < MEMORY_BOUND
    assert result.memory_samples[-1] < result.memory_samples[0] + 4 * 1024 * 1024


def fed(tmp_path, *changes) -> SinkPipeline:
    """A pipeline fed the example messages, each first changed by the matching (kind, change)."""
    pipeline = SinkPipeline(tmp_path)
    changed = dict(changes)
    for offset, message in enumerate(example_messages()):
        plain = msgpack.unpackb(encode(message), raw=False)
        if kind_of(message) in changed:
            changed[kind_of(message)](plain)
        pipeline.handle(msgpack.packb(plain), 1_700_000_000.0 + offset)
    pipeline.close()
    return pipeline


@pytest.mark.parametrize("time", [math.inf, -math.inf, math.nan, 1e300])
def test_a_snapshot_sent_at_a_time_no_calendar_holds_is_logged(tmp_path, time: float) -> None:
    pipeline = fed(tmp_path, ("input_snapshot", lambda m: m.update(time=time)))
    assert not pipeline.state.analysis_errors


def test_attention_after_an_input_snapshot_whose_input_ids_tensor_has_no_dimensions(tmp_path) -> None:
    def no_dimensions(snapshot: dict) -> None:
        snapshot["tensors"][0]["shape"] = []

    pipeline = fed(tmp_path, ("input_snapshot", no_dimensions))
    assert not pipeline.state.analysis_errors


def test_attention_after_an_input_snapshot_whose_input_ids_tensor_has_a_negative_length(tmp_path) -> None:
    pipeline = fed(tmp_path, ("input_snapshot", lambda m: m["tensors"][0].update(shape=[2, -1])))
    assert not pipeline.state.analysis_errors


@pytest.mark.parametrize("warmup", [math.inf, math.nan])
def test_a_run_whose_warmup_steps_is_not_finite(tmp_path, warmup: float) -> None:
    pipeline = fed(tmp_path, ("run_start", lambda m: m["training_args"].update(warmup_steps=warmup)))
    assert not pipeline.state.analysis_errors
