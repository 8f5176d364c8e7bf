"""Limits: frames, strings, lists, maps, arrays and nesting beyond the limits are refused.

Frames are built with plain msgpack (or raw bytes, for lengths no encoder would write) from
the example messages, so each test breaks exactly one limit.

Run: python -m pytest tests/protocol/test_limits.py -q
"""

from __future__ import annotations

import dataclasses
import tracemalloc

import msgpack
import numpy as np
import pytest

from stratlog.protocol import (
    MAX_ITEMS,
    MAX_NDIM,
    MAX_STRING_LENGTH,
    Array,
    FrameTooLarge,
    LimitExceeded,
    Limits,
    MalformedFrame,
    MessageDecoder,
    decode,
    encode,
    kind_of,
)
from stratlog.protocol.examples import example_messages


def plain(kind: str) -> dict:
    """The example message of one kind as a plain dict, ready to be broken and re-packed."""
    message = next(m for m in example_messages() if kind_of(m) == kind)
    return msgpack.unpackb(encode(message), raw=False)


def refused(frame: bytes, error: type, decoder: MessageDecoder | None = None) -> Exception:
    with pytest.raises(error) as caught:
        (decoder or MessageDecoder()).decode(frame)
    return caught.value


def test_frame_over_the_limit_is_refused_before_decoding() -> None:
    garbage = b"\xc1" * (4 * 1024 * 1024 + 1)  # would be MalformedFrame if it were decoded
    error = refused(garbage, FrameTooLarge)
    assert "4194305 bytes" in str(error) and "max_frame_bytes=4194304" in str(error)


def test_frame_limit_is_configurable() -> None:
    frame = encode(example_messages()[1])
    decoder = MessageDecoder(limits=Limits(max_frame_bytes=len(frame) - 1))
    refused(frame, FrameTooLarge, decoder)
    assert MessageDecoder(limits=Limits(max_frame_bytes=len(frame))).decode(frame)


def test_run_start_has_its_own_tighter_frame_limit() -> None:
    message = plain("run_start")
    message["model_config"]["padding"] = "x" * 60_000
    frame = msgpack.packb(message)
    assert decode(frame)
    error = refused(frame, FrameTooLarge, MessageDecoder(Limits(max_run_start_bytes=50_000)))
    assert error.kind == "run_start"


def test_overlong_string_is_refused_with_its_path() -> None:
    message = plain("error")
    message["message"] = "x" * (MAX_STRING_LENGTH + 1)
    error = refused(msgpack.packb(message), LimitExceeded)
    assert error.path == "$.message" and "65536" in str(error)


def test_overlong_list_is_refused_from_its_header() -> None:
    message = plain("input_snapshot")
    message["sample_ids"] = ["s"] * (MAX_ITEMS + 1)
    assert refused(msgpack.packb(message), LimitExceeded).path == "$.sample_ids"


def with_raw_field(kind: str, field: str, raw_value: bytes) -> bytes:
    """A frame of ``kind`` whose ``field`` is replaced by raw msgpack bytes."""
    message = plain(kind)
    del message[field]
    body = msgpack.packb(message)
    body = body[1:] if body[0] < 0x90 else body[3:]  # strip the fixmap / map16 header
    return _map_header(len(message) + 1) + body + msgpack.packb(field) + raw_value


def _map_header(entries: int) -> bytes:
    return bytes([0x80 | entries]) if entries < 16 else b"\xde" + entries.to_bytes(2, "big")


def refused_with_peak(frame: bytes, expected: type) -> tuple[Exception, int]:
    """The decoder's refusal of ``frame`` and the peak bytes traced while it decided."""
    tracemalloc.start()
    try:
        error = refused(frame, expected)
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_declared_length_costs_nothing() -> None:
    frame = with_raw_field("metrics", "values", b"\xdf\xff\xff\xff\xff")  # map of 2^32-1, no body
    error, peak = refused_with_peak(frame, MalformedFrame)
    assert "truncated" in str(error) and peak < 64 * 1024


def test_oversized_map_is_refused() -> None:
    message = plain("metrics")
    message["values"] = {f"m{i}": 0.0 for i in range(MAX_ITEMS + 1)}
    assert refused(msgpack.packb(message), LimitExceeded).path == "$.values"


def test_array_over_the_element_limit_is_refused() -> None:
    message = plain("input_snapshot")
    ids = Array.from_numpy(np.zeros(1000, np.int32))
    message["input_ids"] = {"dtype": ids.dtype, "shape": ids.shape, "data": ids.data}
    frame = msgpack.packb(message)
    assert decode(frame)
    error = refused(frame, LimitExceeded, MessageDecoder(Limits(max_array_elements=999)))
    assert error.path == "$.input_ids" and "1000 elements" in str(error)


def test_too_many_dimensions_are_refused() -> None:
    message = plain("input_snapshot")
    message["input_ids"] = {"dtype": "uint8", "shape": [1] * (MAX_NDIM + 1), "data": b"\x00"}
    assert refused(msgpack.packb(message), LimitExceeded).path == "$.input_ids.shape"


def test_free_form_nesting_over_max_depth_is_refused() -> None:
    message = plain("run_start")
    nested: list = []
    for _ in range(40):
        nested = [nested]
    message["model_config"]["deep"] = nested
    error = refused(msgpack.packb(message), LimitExceeded)
    assert error.path.startswith("$.model_config.deep[0]") and "max_depth=32" in str(error)
    assert MessageDecoder(Limits(max_depth=64)).decode(msgpack.packb(message))


def test_nesting_beyond_the_decoder_stack_is_refused_not_crashed() -> None:
    frame = with_raw_field("run_start", "training_args", b"\x81\xa1k" + b"\x91" * 100_000 + b"\xc0")
    assert "nesting too deep" in str(refused(frame, LimitExceeded))


def test_free_form_strings_and_lists_keep_the_schema_caps() -> None:
    message = plain("run_start")
    message["training_args"]["nested"] = {"note": "y" * (MAX_STRING_LENGTH + 1)}
    assert refused(msgpack.packb(message), LimitExceeded).path == "$.training_args.nested.note"


def test_encode_refuses_a_frame_a_default_receiver_would_refuse() -> None:
    message = next(m for m in example_messages() if kind_of(m) == "input_snapshot")
    message.input_ids = Array.from_numpy(np.zeros(1_100_000, np.float32))
    with pytest.raises(FrameTooLarge):
        encode(message)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Limits)])
def test_limits_reject_bad_values_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field} must be a positive int"):
        Limits(**{field: 0})


def test_max_depth_has_a_ceiling() -> None:
    with pytest.raises(ValueError, match=r"Limits\.max_depth must be at most 200"):
        Limits(max_depth=201)


def test_explaining_a_refused_frame_builds_nothing_per_element() -> None:
    """A 4 MiB frame of nested lists that each declare a million elements, cut short: saying
    why it is malformed must not unpack it (msgpack-python's full unpack took ~53 MiB here)."""
    chain = b"\xdd\x00\x0f\x42\x40" * 200
    frame = with_raw_field("heartbeat", "queue_depth", chain + b"\xc0" * (4 * 1024 * 1024 - 4096))
    error, peak = refused_with_peak(frame, MalformedFrame)
    assert "truncated" in error.reason and peak < 2 * len(frame)
