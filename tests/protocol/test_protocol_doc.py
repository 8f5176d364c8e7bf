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
