"""Decode errors are typed and say what is wrong and where.

Run: python -m pytest tests/protocol/test_errors.py -q
"""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from stratlog.protocol import (
    Array,
    InvalidArray,
    InvalidMessage,
    MalformedFrame,
    ProtocolError,
    decode,
    encode,
    kind_of,
)
from stratlog.protocol.examples import example_messages


def plain(kind: str) -> dict:
    message = next(m for m in example_messages() if kind_of(m) == kind)
    return msgpack.unpackb(encode(message), raw=False)


def error_of(frame: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    return caught.value


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"", "frame is truncated"),
        (b"\xc1", "a byte that starts no msgpack type"),
        (msgpack.packb([1, 2, 3]), "frame is not a msgpack map"),
        (encode(example_messages()[0])[:-3], "frame is truncated"),
        (encode(example_messages()[0]) + b"\x00", "trailing bytes after the message"),
        (b"\x81\xa4kind\xa2\xff\xfe", "a string is not valid UTF-8"),
    ],
)
def test_malformed_frames(frame: bytes, reason: str) -> None:
    """Our class and our words, whatever the msgspec release says (its text changed in 0.23)."""
    error = error_of(frame)
    assert type(error) is MalformedFrame and reason in error.reason


def test_a_frame_must_be_bytes_like() -> None:
    assert "got str" in str(error_of("not bytes"))
    assert decode(memoryview(encode(example_messages()[1])))  # zero-copy frames are fine
    assert decode(bytearray(encode(example_messages()[1])))


def test_wrong_type_names_the_field() -> None:
    message = plain("metrics")
    message["rank"] = "0"
    error = error_of(msgpack.packb(message))
    assert type(error) is InvalidMessage and error.path == "$.rank" and error.kind == "metrics"
    assert str(error).endswith(" - at `$.rank` (kind 'metrics')")  # our format around msgspec's detail


def test_nested_wrong_type_gives_the_full_path() -> None:
    message = plain("input_snapshot")
    message["segments"][1]["end"] = -4
    assert error_of(msgpack.packb(message)).path == "$.segments[1].end"


def test_missing_field_is_named() -> None:
    message = plain("run_end")
    del message["status"]
    error = error_of(msgpack.packb(message))
    assert type(error) is InvalidMessage and error.kind == "run_end" and "status" in error.reason


def test_rank_must_be_below_world_size() -> None:
    message = plain("heartbeat")
    message.update(rank=4, world_size=4)
    error = error_of(msgpack.packb(message))
    assert error.path == "$.rank" and "not below world_size 4" in str(error)


@pytest.mark.parametrize(
    "array, path, reason",
    [
        ({"dtype": "complex64", "shape": [1], "data": b"\x00" * 8}, "$.entropy.dtype", "not one of"),
        ({"dtype": "object", "shape": [1], "data": b"\x00" * 8}, "$.entropy.dtype", "not one of"),
        ({"dtype": "float32", "shape": [2, 2], "data": b"\x00" * 12}, "$.entropy.data", "needs 16"),
        ({"dtype": "float32", "shape": [-1, -4], "data": b"\x00" * 16}, "$.entropy.shape", "negative"),
    ],
)
def test_invalid_arrays(array: dict, path: str, reason: str) -> None:
    message = plain("attention_snapshot")
    message["entropy"] = array
    error = error_of(msgpack.packb(message))
    assert type(error) is InvalidArray and error.path == path and reason in str(error)


def test_free_form_maps_must_be_json_like() -> None:
    for bad in ({1: "int key"}, {"blob": b"bytes"}, {"ext": msgpack.ExtType(1, b"x")}):
        message = plain("run_start")
        message["model_config"]["bad"] = bad
        error = error_of(msgpack.packb(message))
        assert type(error) is InvalidMessage and error.path.startswith("$.model_config.bad")


def test_every_error_is_a_protocol_error_subclass() -> None:
    import stratlog.protocol.errors as errors

    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(cls, ProtocolError) for cls in classes)


@pytest.mark.parametrize(
    "array, reason",
    [
        (Array(dtype="float32", shape=[2], data=bytes(12)), "12 bytes do not fit shape [2]"),
        (Array(dtype="float32", shape=[-1], data=b""), "do not fit shape [-1]"),
        (Array(dtype="float32", shape=[3], data=bytes(8)), "do not fit shape [3]"),
        (Array(dtype="complex64", shape=[1], data=bytes(8)), "not one of"),
    ],
)
def test_to_numpy_refuses_inconsistent_arrays(array: Array, reason: str) -> None:
    with pytest.raises(InvalidArray) as caught:
        array.to_numpy()
    assert reason in str(caught.value)


def test_from_numpy_refuses_dtypes_outside_the_whitelist() -> None:
    for value in (np.zeros(2, np.complex64), np.zeros(2, np.uint32), np.array(["a"], dtype=object)):
        with pytest.raises(InvalidArray, match="cannot be sent"):
            Array.from_numpy(value)
