"""PROTOCOL.md's worked examples are the reference encoder's real bytes.

Run: python -m pytest tests/protocol/test_protocol_doc.py -q
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import numpy as np

from stratlog.protocol import Array, Heartbeat, decode, encode

SPEC = (Path(__file__).resolve().parents[2] / "PROTOCOL.md").read_text()


def example_bytes(marker: str) -> bytes:
    """The hex column of the code block that follows ``<!-- marker -->`` in PROTOCOL.md."""
    block = re.search(rf"<!-- {marker} -->\n```\n(.*?)```", SPEC, re.DOTALL)
    assert block, f"no {marker} block in PROTOCOL.md"
    hex_column = [re.match(r"((?:[0-9a-f]{2} ?)+)", line)[1] for line in block[1].splitlines()]
    return bytes.fromhex("".join(hex_column))


def test_worked_example_is_the_real_encoding() -> None:
    heartbeat = Heartbeat(
        run_id="demo", rank=1, world_size=2, seq=41, step=300, time=1700000000.25, dropped=2, queue_depth=3
    )
    frame = encode(heartbeat)
    assert example_bytes("worked-example") == frame
    assert f"The frame, {len(frame)} bytes" in SPEC
    assert decode(example_bytes("worked-example")) == heartbeat


def test_array_example_is_the_real_encoding() -> None:
    array = Array.from_numpy(np.array([1.0, 2.5], dtype=np.float32))
    frame = msgspec.msgpack.encode(array)
    assert example_bytes("array-example") == frame
    assert f"`[1.0, 2.5]`, {len(frame)} bytes" in SPEC


_KIND_HEADING = re.compile(r"^### `(?P<kind>[a-z_]+)` — ")
_ARRAY_ROW = re.compile(r"^\| `(?P<field>[a-z_]+)` \| Array \|[^|]*\| (?P<meaning>.*) \|$")
_SHAPE = re.compile(r"\b(?P<family>integer|float|bool)\b.*?\[(?P<dims>[A-Za-z](?:, [A-Za-z])*)\](?P<rest>.*)")


def documented_array_shapes() -> dict[str, set[tuple[str, str, tuple[str, ...], bool]]]:
    """Kind -> (field, family, letters, [0] allowed) of every Array row in its §6 table."""
    shapes: dict[str, set] = {}
    kind = None
    for line in SPEC.splitlines():
        if heading := _KIND_HEADING.match(line):
            kind = heading["kind"]
        elif line.startswith("## "):
            kind = None
        elif kind and (row := _ARRAY_ROW.match(line)):
            shape = _SHAPE.search(row["meaning"])
            assert shape, f"{kind}.{row['field']}: no 'family, [letters]' in {row['meaning']!r}"
            dims = tuple(shape["dims"].split(", "))
            shapes.setdefault(kind, set()).add((row["field"], shape["family"], dims, "or [0]" in shape["rest"]))
    return shapes


def test_every_array_field_in_section_6_is_a_row_of_the_decoders_constraints() -> None:
    """PROTOCOL.md's element families and letters are what the decoder enforces, no more, no less."""
    from stratlog.protocol import MESSAGE_TYPES
    from stratlog.protocol.constraints import KIND_CONSTRAINTS

    enforced = {
        kind: {(a.field, a.family, a.dims, a.or_empty) for a in KIND_CONSTRAINTS[cls].arrays}
        for kind, cls in MESSAGE_TYPES.items()
        if cls in KIND_CONSTRAINTS
    }
    assert documented_array_shapes() == enforced
    every_array_field = {
        (kind, f.name) for kind, cls in MESSAGE_TYPES.items() for f in msgspec.structs.fields(cls) if f.type is Array
    }
    assert every_array_field == {(kind, field) for kind, rows in enforced.items() for field, *_ in rows}
