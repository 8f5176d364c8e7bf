"""Fuzzing the decoder: 100 000 random and mutated frames, only typed errors come out.

Frames come from a fixed-seed ``random.Random`` (reproducible, and far faster than hypothesis
at this volume): bit flips, truncations, splices, huge declared lengths, fields of the wrong
type, deep nesting, random msgpack and random bytes, all starting from real frames of every
kind. Every decode must either return a message or raise a ProtocolError subclass. Memory is
checked with tracemalloc on a sample of the fuzz frames and on hand-made worst cases: decoding
one frame must stay under the bound PROTOCOL.md states (about 32 MiB with default limits).

Run: python -m pytest tests/protocol/test_fuzz.py -q
"""

from __future__ import annotations

import contextlib
import random
import tracemalloc
from collections import Counter
from collections.abc import Callable

import msgpack
import pytest

from stratlog.protocol import MAX_ITEMS, MESSAGE_TYPES, ProtocolError, decode, encode, kind_of
from stratlog.protocol.examples import FULL_SIZE, example_messages, example_snapshots

FRAME_COUNT = 100_000
SEED = 20_240_601
MEMORY_BOUND = 32 * 1024 * 1024

SEED_MESSAGES = example_messages() + example_snapshots(FULL_SIZE, seed=1)
SEED_FRAMES = [encode(m) for m in SEED_MESSAGES]
SEED_PLAIN = [msgpack.unpackb(f, raw=False) for f in SEED_FRAMES]
HUGE_HEADERS = [
    b"\xdd\xff\xff\xff\xff",
    b"\xdf\xff\xff\xff\xff",
    b"\xdb\xff\xff\xff\xff",
    b"\xc6\xff\xff\xff\xff",
    b"\xdc\xff\xff",
    b"\xde\xff\xff",
    b"\xc5\xff\xff",
    b"\xd9\xff",
    b"\xc9\x7f\xff\xff\xff\x01",
]


def pack_map_with_raw(plain: dict, key: str, raw_value: bytes) -> bytes:
    """Pack ``plain`` with ``key``'s value replaced by raw msgpack bytes (possibly invalid)."""
    rest = {k: v for k, v in plain.items() if k != key}
    body = b"".join(msgpack.packb(k) + msgpack.packb(v) for k, v in rest.items())
    return b"\xde" + (len(rest) + 1).to_bytes(2, "big") + body + msgpack.packb(key) + raw_value


def random_value(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(12 if depth < 3 else 9)
    return [
        lambda: None,
        lambda: rng.random() < 0.5,
        lambda: rng.randint(-(2**63), 2**64 - 1),
        lambda: rng.choice([-1, 0, 1, 2**31, 2**63 - 1]),
        lambda: rng.uniform(-1e300, 1e300),
        lambda: float(rng.choice(["nan", "inf", "-inf"])),
        lambda: "x" * rng.randrange(40),
        lambda: rng.randbytes(rng.randrange(40)),
        lambda: msgpack.ExtType(rng.randrange(128), b"ab"),
        lambda: [random_value(rng, depth + 1) for _ in range(rng.randrange(4))],
        lambda: {rng.choice(["dtype", "shape", "data", "kind", "k"]): random_value(rng, depth + 1)},
        lambda: {
            "dtype": rng.choice(["float32", "bool", "bfloat16", "x"]),
            "shape": [rng.randint(-3, 2**40) for _ in range(rng.randrange(4))],
            "data": rng.randbytes(rng.randrange(64)),
        },
    ][choice]()


def flip_bits(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def truncate(rng: random.Random, frame: bytes) -> bytes:
    return frame[: rng.randrange(len(frame))]


def splice(rng: random.Random, frame: bytes) -> bytes:
    start = rng.randrange(len(frame))
    end = min(len(frame), start + rng.randint(1, 32))
    return rng.choice(
        [
            frame[:start] + frame[end:],
            frame[:end] + frame[start:],
            frame[:start] + rng.randbytes(end - start) + frame[end:],
        ]
    )


def huge_length(rng: random.Random, frame: bytes) -> bytes:
    at = rng.randrange(len(frame))
    return frame[:at] + rng.choice(HUGE_HEADERS) + frame[at + rng.randint(0, 1) :]


def wrong_type(rng: random.Random, _: bytes) -> bytes:
    plain = dict(rng.choice(SEED_PLAIN))
    key = rng.choice(list(plain))
    value = plain[key]
    if isinstance(value, dict) and value and rng.random() < 0.5:  # go one level down (arrays)
        value = dict(value)
        value[rng.choice(list(value))] = random_value(rng)
        plain[key] = value
    else:
        plain[key] = random_value(rng)
    return msgpack.packb(plain)


def deep_nesting(rng: random.Random, _: bytes) -> bytes:
    depth = rng.choice([8, 33, 200, 1_000, 10_000, 200_000])
    opener = rng.choice([b"\x91", b"\x81\xa1a", b"\xdc\x00\x01"])
    raw = opener * depth + b"\xc0"
    if rng.random() < 0.2:
        return raw
    plain = rng.choice(SEED_PLAIN)
    return pack_map_with_raw(plain, rng.choice([*plain, "model_config", "unknown_key"]), raw)


def random_msgpack(rng: random.Random, _: bytes) -> bytes:
    plain = {"kind": rng.choice([*MESSAGE_TYPES, "", "bogus"]), "version": rng.choice([0, 1, 1, 2])}
    for _ in range(rng.randrange(12)):
        plain[rng.choice(["run_id", "rank", "world_size", "seq", "step", "time", "values", "x"])] = (
            random_value(rng)
        )
    return msgpack.packb(plain)


def random_bytes(rng: random.Random, _: bytes) -> bytes:
    return rng.randbytes(rng.randrange(64))


MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    flip_bits,
    flip_bits,
    truncate,
    splice,
    huge_length,
    wrong_type,
    wrong_type,
    deep_nesting,
    random_msgpack,
    random_bytes,
]


def fuzz_frames(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        mutator = rng.choice(MUTATORS)
        yield mutator.__name__, mutator(rng, rng.choice(SEED_FRAMES))


def test_only_protocol_errors_escape_the_decoder() -> None:
    outcomes: Counter[str] = Counter()
    escaped: list[tuple[str, bytes, BaseException]] = []
    for mutation, frame in fuzz_frames(FRAME_COUNT, SEED):
        try:
            message = decode(frame)
        except ProtocolError as error:
            outcomes[type(error).__name__] += 1
        except BaseException as error:  # exactly what this test hunts
            escaped.append((mutation, frame[:64], error))
        else:
            assert isinstance(message, tuple(MESSAGE_TYPES.values()))
            encode(message)  # whatever decodes is a valid message again
            outcomes["decoded"] += 1
    assert not escaped, escaped[:5]
    assert sum(outcomes.values()) == FRAME_COUNT
    # The mix really exercises every failure class, and some mutants still decode.
    for name in (
        "decoded",
        "MalformedFrame",
        "InvalidMessage",
        "InvalidArray",
        "LimitExceeded",
        "UnknownKind",
        "UnsupportedVersion",
    ):
        assert outcomes[name] > 0, outcomes


def decode_peak(frame: bytes) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(ProtocolError):
            decode(frame)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fuzz_frames_stay_within_the_memory_bound() -> None:
    peaks = [decode_peak(frame) for _, frame in fuzz_frames(2_000, SEED + 1)]
    assert max(peaks) < MEMORY_BOUND


def plain_of(kind: str) -> dict:
    message = next(m for m in example_messages() if kind_of(m) == kind)
    return msgpack.unpackb(encode(message), raw=False)


def worst_case_frames() -> dict[str, bytes]:
    """Frames built to maximise decoded memory within the default limits."""
    keys = [f"{i:x}" for i in range(MAX_ITEMS)]
    snapshot = plain_of("input_snapshot")
    snapshot.update(
        sample_ids=keys,
        speakers=[k + "a" for k in keys],
        languages=[k + "b" for k in keys],
        tensors=[{"name": k, "shape": [], "dtype": ""} for k in keys[:40_000]],
        segments=[{"sample": 0, "role": "", "start": 300, "end": 300, "frames": 300}] * 40_000,
    )
    metrics = plain_of("metrics")
    metrics["values"] = dict.fromkeys(keys, 0.5)
    run_start = plain_of("run_start")
    run_start["model_config"] = {k: [[] for _ in range(MAX_ITEMS - 1)] for k in "abc"}
    return {
        name: msgpack.packb(p)
        for name, p in {"input_snapshot": snapshot, "metrics": metrics, "run_start": run_start}.items()
    }


@pytest.mark.parametrize("name", ["input_snapshot", "metrics", "run_start"])
def test_worst_case_frames_stay_within_the_memory_bound(name: str) -> None:
    frame = worst_case_frames()[name]
    assert len(frame) <= 4 * 1024 * 1024
    assert 4 * 1024 * 1024 < decode_peak(frame) < MEMORY_BOUND  # big, but bounded
