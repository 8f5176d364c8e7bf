"""Versioning rules: newer minor accepted (unknown keys ignored), other majors refused clearly.

Run: python -m pytest tests/protocol/test_versioning.py -q
"""

from __future__ import annotations

import msgpack
import pytest

from stratlog.protocol import (
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    InvalidMessage,
    UnknownKind,
    UnsupportedVersion,
    decode,
    encode,
    kind_of,
)
from stratlog.protocol.examples import example_messages


@pytest.fixture(params=[kind_of(m) for m in example_messages()])
def plain(request: pytest.FixtureRequest) -> dict:
    """One example message of each kind as a plain dict."""
    message = next(m for m in example_messages() if kind_of(m) == request.param)
    return msgpack.unpackb(encode(message), raw=False)


def test_newer_minor_with_unknown_keys_is_accepted(plain: dict) -> None:
    original = decode(msgpack.packb(plain))
    plain.update(minor=7, added_in_1_7={"nested": [1, 2, {"x": b"bytes are fine here"}]}, z=None)
    decoded = decode(msgpack.packb(plain))
    assert decoded.minor == 7
    decoded.minor = original.minor
    assert decoded == original


def test_key_order_does_not_matter(plain: dict) -> None:
    reordered = dict(reversed(list(plain.items())))
    assert decode(msgpack.packb(reordered)) == decode(msgpack.packb(plain))


def test_newer_major_is_refused_even_when_its_fields_changed(plain: dict) -> None:
    plain.update(version=PROTOCOL_MAJOR + 1, minor=3, rank="rank zero")  # retyped in "2.3"
    with pytest.raises(UnsupportedVersion) as caught:
        decode(msgpack.packb(plain))
    assert "protocol 2.3" in str(caught.value) and "upgrade the receiver" in str(caught.value)
    assert caught.value.path == "$.version"


def test_older_major_is_refused() -> None:
    plain = msgpack.unpackb(encode(example_messages()[-1]))
    plain["version"] = 0
    with pytest.raises(UnsupportedVersion, match=rf"protocol 0\.{PROTOCOL_MINOR}; this receiver reads 1\.x"):
        decode(msgpack.packb(plain))


def test_missing_version_is_refused_not_guessed() -> None:
    plain = msgpack.unpackb(encode(example_messages()[-1]))
    del plain["version"]
    with pytest.raises(InvalidMessage) as caught:
        decode(msgpack.packb(plain))
    assert "version" in caught.value.reason


def test_missing_minor_and_defaulted_fields_take_their_defaults() -> None:
    plain = msgpack.unpackb(encode(example_messages()[-2]))  # a heartbeat
    for key in ("minor", "dropped", "queue_depth"):
        del plain[key]
    heartbeat = decode(msgpack.packb(plain))
    assert (heartbeat.minor, heartbeat.dropped, heartbeat.queue_depth) == (0, 0, 0)


def test_unknown_kind_is_named_and_blamed_on_a_newer_minor() -> None:
    plain = msgpack.unpackb(encode(example_messages()[-2]))
    plain.update(kind="gradient_snapshot", minor=PROTOCOL_MINOR + 1)
    with pytest.raises(UnknownKind) as caught:
        decode(msgpack.packb(plain))
    message = str(caught.value)
    assert "'gradient_snapshot'" in message and f"newer minor version 1.{PROTOCOL_MINOR + 1}" in message
    assert "heartbeat" in message  # lists the kinds it knows


@pytest.mark.parametrize("minor, field", [(0, "repeated_code_share"), (2, "pair_similarity")])
def test_an_older_input_snapshot_reads_with_the_segment_field_added_after_it_at_its_default(minor, field) -> None:
    """1.1 added `repeated_code_share`, 1.3 `pair_similarity`: a sender of the version before
    writes neither, and the receiver reads "not measured" (-1)."""
    snapshot = next(m for m in example_messages() if kind_of(m) == "input_snapshot")
    plain = msgpack.unpackb(encode(snapshot))
    plain["minor"] = minor
    for segment in plain["segments"]:
        del segment[field]
    decoded = decode(msgpack.packb(plain))
    assert decoded.minor == minor
    assert [getattr(s, field) for s in decoded.segments] == [-1.0] * len(snapshot.segments)


@pytest.mark.parametrize("version", [0, PROTOCOL_MAJOR + 1])
def test_another_major_gets_the_same_error_from_the_reference_encoding_and_any_other(plain: dict, version: int) -> None:
    """The decoder reads a frame that is its message's reference encoding without the head pass
    (`protocol.codec`); a frame of another major is refused the same way on both paths."""
    plain["version"] = version
    message = decode(msgpack.packb(dict(plain, version=PROTOCOL_MAJOR)))
    message.version = version
    errors = []
    for frame in (encode(message), msgpack.packb(dict(reversed(list(plain.items()))))):
        with pytest.raises(UnsupportedVersion) as caught:
            decode(frame)
        errors.append((str(caught.value), caught.value.path, caught.value.kind))
    assert errors[0] == errors[1] and errors[0][1] == "$.version"
