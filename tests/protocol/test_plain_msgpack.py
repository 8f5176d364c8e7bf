"""Our frames are standard msgpack: plain msgpack-python reads them, finding PROTOCOL.md's fields.

The field tables are parsed out of PROTOCOL.md itself, so the page and the wire cannot drift
apart. No project code decodes anything here; ``protocol`` only builds the example frames.

Run: python -m pytest tests/protocol/test_plain_msgpack.py -q
"""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import numpy as np
import pytest

from stratlog.protocol import PROTOCOL_MINOR, encode, kind_of
from stratlog.protocol.examples import FULL_SIZE, example_messages, example_snapshots

SPEC = Path(__file__).resolve().parents[2] / "PROTOCOL.md"
_HEADING = re.compile(r"^### (?:`(?P<kind>[a-z_]+)` — )?(?P<name>\w+)\s*$")
_FIELD_ROW = re.compile(r"^\| `(?P<field>[a-z_]+)` \| (?P<type>[^|]+) \|")


def documented_fields() -> dict[str, list[str]]:
    """Heading (kind tag, or structure name) -> field names in its table, in order."""
    tables: dict[str, list[str]] = {}
    current, in_field_table = None, False
    for line in SPEC.read_text().splitlines():
        if heading := _HEADING.match(line):
            current = heading["kind"] or heading["name"]
            tables[current] = []
        elif line.startswith("| Field | Type | Default | Meaning |"):
            in_field_table = current is not None
        elif not line.strip():
            in_field_table = False
        elif in_field_table and (row := _FIELD_ROW.match(line)):
            tables[current].append(row["field"])
    return tables


DOCUMENTED = documented_fields()
FRAMES = [encode(m) for m in example_messages()] + [encode(m) for m in example_snapshots(FULL_SIZE)]


def test_every_kind_and_structure_is_documented() -> None:
    kinds = {kind_of(m) for m in example_messages()}
    assert kinds <= DOCUMENTED.keys()
    assert {"Envelope", "Array", "TensorInfo", "AudioSegment"} <= DOCUMENTED.keys()


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: msgpack.unpackb(f)["kind"])
def test_plain_msgpack_finds_exactly_the_documented_fields(frame: bytes) -> None:
    message = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    assert isinstance(message, dict)
    expected = DOCUMENTED["Envelope"] + DOCUMENTED[message["kind"]]
    assert list(message) == expected  # the reference encoder writes the documented order
    assert message["version"] == 1 and message["minor"] == PROTOCOL_MINOR == 3
    for value in message.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and "data" in item:
                assert list(item) == DOCUMENTED["Array"]
                assert isinstance(item["data"], bytes)


def test_plain_code_rebuilds_an_array_from_the_documented_encoding() -> None:
    snapshot = next(m for m in example_snapshots(FULL_SIZE) if kind_of(m) == "attention_snapshot")
    plain = msgpack.unpackb(encode(snapshot), raw=False)
    table = plain["entropy"]
    little_endian = {"float32": "<f4"}[table["dtype"]]
    values = np.frombuffer(table["data"], dtype=little_endian).reshape(table["shape"])
    assert values.shape == (28, 24)
    assert np.array_equal(values, snapshot.entropy.to_numpy())


def test_nested_structures_have_the_documented_fields() -> None:
    snapshot = next(m for m in example_snapshots() if kind_of(m) == "input_snapshot")
    plain = msgpack.unpackb(encode(snapshot), raw=False)
    assert list(plain["tensors"][0]) == DOCUMENTED["TensorInfo"]
    assert list(plain["segments"][0]) == DOCUMENTED["AudioSegment"]
    assert {s["role"] for s in plain["segments"]} == {"reference", "target"}
