"""Structured mutations of real frames, one field at a time, for fuzzing a receiver.

Random bytes and bit flips mostly make frames that are not msgpack, which a decoder refuses in
its first microsecond; the frames that reach deep code (constraints, then the sink's analyses,
logs and dashboard) are right everywhere but in one field. :class:`FrameMutator` takes real
frames, reads each as a plain msgpack tree, and changes one value per mutation with one
operator, then packs the tree again:

* ``type``: a value of another msgpack type (nil, bool, int, float, str, bin, list, map, ext);
* ``dtype``: an array's dtype, another whitelisted one or not, its data resized or not;
* ``shape``: an array's shape (a dimension more or less, one off by one, zero, negative, huge),
  its data resized to match or not;
* ``length``: a list, string or map longer, shorter or empty;
* ``range``: an int or float at an edge (0, -1, 2^31, 2^63 - 1, 2^63, 2^64 - 1, NaN, inf, ...);
* ``key``: a key removed, renamed, written twice, or not a string;
* ``content``: an array's bytes replaced (random, all ones, extreme ids), shape kept.

Each mutation is reproducible from the seed and names its operator and path, so a frame that
breaks a receiver can be reported and replayed. Used by tests/protocol/test_structured_fuzz.py
and bench/bench_fuzz.py; it needs only msgpack and numpy, like the rest of the package.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

from stratlog.protocol.arrays import WIRE_DTYPES

OPERATORS = ("type", "dtype", "shape", "length", "range", "key", "content")

_OTHER_DTYPES = ("uint32", "uint64", "complex64", "object", "", "float32 ")
_EDGE_INTS = (0, 1, -1, 2, 7, 255, 2**31 - 1, 2**31, -(2**31), 2**53, 2**63 - 1, 2**63, 2**64 - 1, -(2**63))
_EDGE_FLOATS = (0.0, -0.0, -1.0, 0.5, 1.0, 1.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan)
_STRINGS = ("", "x", "reference", "target", "other", "\x00\x0c\x14", "é" * 40, "\u202e\ufeff", "k" * 70_000)
_MAX_RESIZED_BYTES = 1 << 21
"""A mutated array's data is resized to match its new shape only up to this size (else kept)."""


@dataclass(frozen=True)
class Mutation:
    """One mutated frame and what was done to make it."""

    operator: str
    path: str
    """Where, JSONPath style: ``$.segments[1].role``."""
    detail: str
    """What, in a few words: ``int -> None``."""
    seed_index: int
    """Which of the mutator's frames it started from."""
    frame: bytes

    def describe(self) -> str:
        return f"{self.operator} at {self.path}: {self.detail} (seed frame {self.seed_index})"


class _DuplicateKey:
    """A map to pack with one key written twice (msgpack-python packs dicts, whose keys are unique)."""

    def __init__(self, items: list[tuple[Any, Any]]) -> None:
        self.items = items


def _pack(value: Any) -> bytes:
    """msgpack, with :class:`_DuplicateKey` maps written entry by entry."""
    if isinstance(value, _DuplicateKey):
        return _map_header(len(value.items)) + b"".join(_pack(k) + _pack(v) for k, v in value.items)
    if isinstance(value, dict):
        return _map_header(len(value)) + b"".join(_pack(k) + _pack(v) for k, v in value.items())
    if isinstance(value, list):
        count = len(value)
        header = bytes([0x90 | count]) if count < 16 else (b"\xdc" + count.to_bytes(2, "big") if count < 65_536
                                                           else b"\xdd" + count.to_bytes(4, "big"))
        return header + b"".join(_pack(item) for item in value)
    return msgpack.packb(value)


def _map_header(count: int) -> bytes:
    if count < 16:
        return bytes([0x80 | count])
    return b"\xde" + count.to_bytes(2, "big") if count < 65_536 else b"\xdf" + count.to_bytes(4, "big")


def _is_array(value: Any) -> bool:
    return isinstance(value, dict) and {"dtype", "shape", "data"} <= set(value)


def _nodes(tree: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every value in the tree with its path (keys and indices), the root excluded."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield (*path, key), value
            yield from _nodes(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree[:64]):  # long lists: their first items stand for the rest
            yield (*path, index), value
            yield from _nodes(value, (*path, index))


def _json_path(path: tuple) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


class FrameMutator:
    """Mutations of ``frames`` (real frames: msgpack maps), reproducible from ``seed``."""

    def __init__(self, frames: list[bytes], seed: int) -> None:
        self.frames = frames
        self.trees = [msgpack.unpackb(frame, raw=False) for frame in frames]
        self.rng = random.Random(seed)
        self._targets = [self._classify(tree) for tree in self.trees]

    @staticmethod
    def _classify(tree: dict) -> dict[str, list[tuple]]:
        """Operator -> paths it can apply to, in one tree."""
        targets: dict[str, list[tuple]] = {name: [] for name in OPERATORS}
        targets["key"].append(())  # the frame's own map
        for path, value in _nodes(tree):
            targets["type"].append(path)
            if _is_array(value):
                for name in ("dtype", "shape", "content"):
                    targets[name].append(path)
            if isinstance(value, (list, str, dict)):
                targets["length"].append(path)
            if isinstance(value, dict):
                targets["key"].append(path)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                targets["range"].append(path)
        return {name: paths for name, paths in targets.items() if paths}

    def mutations(self, count: int) -> Iterator[Mutation]:
        for _ in range(count):
            yield self.mutate()

    def mutate(self) -> Mutation:
        index = self.rng.randrange(len(self.trees))
        targets = self._targets[index]
        operator = self.rng.choice([name for name in OPERATORS if name in targets])
        path = self.rng.choice(targets[operator])
        holder = [copy.deepcopy(self.trees[index])]  # so that even the frame's own map has a parent
        parent = holder
        for part in (0, *path)[:-1]:
            parent = parent[part]
        detail = getattr(self, f"_{operator}")(parent, (0, *path)[-1])
        return Mutation(operator, _json_path(path), detail, index, _pack(holder[0]))

    def _value_of_another_type(self, value: Any) -> Any:
        rng = self.rng
        choices = [
            None, True, 0, -1, 2**64 - 1, 1.5, math.nan, "", "7", b"", b"\x00\x01", [], [value], {}, {"k": value},
            msgpack.ExtType(1, b"\x00"), msgpack.Timestamp(1, 0),
        ]
        return rng.choice([choice for choice in choices if type(choice) is not type(value)])

    def _type(self, parent: Any, key: Any) -> str:
        old = parent[key]
        parent[key] = new = self._value_of_another_type(old)
        return f"{type(old).__name__} -> {type(new).__name__}"

    def _resized(self, array: dict) -> None:
        dtype = WIRE_DTYPES.get(array["dtype"])
        shape = array["shape"]
        if dtype is None or not all(isinstance(d, int) and 0 <= d for d in shape):
            return
        size = math.prod(shape) * dtype.itemsize
        if size <= _MAX_RESIZED_BYTES:
            array["data"] = (array["data"] * (size // max(1, len(array["data"])) + 1))[:size] or bytes(size)

    def _dtype(self, parent: Any, key: Any) -> str:
        array = parent[key]
        old = array["dtype"]
        array["dtype"] = new = self.rng.choice([*sorted(WIRE_DTYPES), *_OTHER_DTYPES])
        resized = self.rng.random() < 0.7
        if resized:
            self._resized(array)
        return f"{old} -> {new!r}" + (", data resized" if resized else "")

    def _shape(self, parent: Any, key: Any) -> str:
        array = parent[key]
        shape = list(array["shape"])
        rng = self.rng
        change = rng.choice(["scalar", "more", "fewer", "off_by_one", "zero", "negative", "huge", "swap", "many"])
        if change == "scalar":
            shape = []
        elif change == "more":
            shape.insert(rng.randrange(len(shape) + 1), rng.choice([1, 2]))
        elif change == "fewer" and shape:
            shape.pop(rng.randrange(len(shape)))
        elif change == "off_by_one" and shape:
            at = rng.randrange(len(shape))
            shape[at] = max(0, shape[at] + rng.choice([-1, 1]))
        elif change == "zero" and shape:
            shape[rng.randrange(len(shape))] = 0
        elif change == "negative" and shape:
            shape[rng.randrange(len(shape))] = -1
        elif change == "huge" and shape:
            shape[rng.randrange(len(shape))] = rng.choice([2**31, 2**62, 2**63 - 1])
        elif change == "swap":
            shape.reverse()
        elif change == "many":
            shape = [1] * rng.choice([32, 33])
        old = array["shape"]
        array["shape"] = shape
        resized = rng.random() < 0.7
        if resized:
            self._resized(array)
        return f"{old} -> {shape} ({change})" + (", data resized" if resized else "")

    def _length(self, parent: Any, key: Any) -> str:
        value = parent[key]
        rng = self.rng
        if isinstance(value, str):
            parent[key] = rng.choice(_STRINGS)
            return f"str of {len(value)} -> {len(parent[key])} characters"
        if isinstance(value, dict):
            if value and rng.random() < 0.5:
                removed = rng.choice(list(value))
                del value[removed]
                return f"entry {removed!r} removed"
            value[rng.choice(["added_later", "x", "dtype", "loss", ""])] = rng.choice([0, 1.5, "v", None, [1]])
            return "an entry added"
        change = rng.choice(["empty", "one", "append", "drop_last", "double", "long"])
        if change == "empty":
            value.clear()
        elif change == "one":
            del value[1:]
        elif change == "append" and value:
            value.append(copy.deepcopy(rng.choice(value)))
        elif change == "drop_last" and value:
            value.pop()
        elif change == "double":
            value.extend(copy.deepcopy(value))
        elif change == "long" and value:
            value.extend([value[0]] * rng.choice([100, 5_000, 70_000]))
        return f"list of {len(parent[key])} items ({change})"

    def _range(self, parent: Any, key: Any) -> str:
        old = parent[key]
        if isinstance(old, float):
            parent[key] = self.rng.choice(_EDGE_FLOATS)
        else:
            parent[key] = self.rng.choice([*_EDGE_INTS, old + 1, old - 1, old * 1000])
        return f"{old!r} -> {parent[key]!r}"

    def _key(self, parent: Any, key: Any) -> str:
        mapping = parent[key]
        rng = self.rng
        if not mapping:
            mapping["added_later"] = 1
            return "a key added to an empty map"
        name = rng.choice(list(mapping))
        change = rng.choice(["remove", "rename", "duplicate", "not_a_string"])
        if change == "remove":
            del mapping[name]
        elif change == "rename":
            mapping[rng.choice(["added_later", f"{name}_", name.upper() if isinstance(name, str) else "k"])] = (
                mapping.pop(name))
        elif change == "duplicate":
            other = self._value_of_another_type(mapping[name]) if rng.random() < 0.5 else mapping[name]
            parent[key] = _DuplicateKey([*mapping.items(), (name, other)])
        else:
            mapping[rng.choice([7, b"bin", 1.5, None])] = mapping.pop(name)
        return f"{change} {name!r}"

    def _content(self, parent: Any, key: Any) -> str:
        array = parent[key]
        size = len(array["data"]) if isinstance(array["data"], bytes) else 0
        change = self.rng.choice(["random", "ones", "extreme_ids", "nan"])
        if change == "random":
            array["data"] = self.rng.randbytes(size)
        elif change == "ones":
            array["data"] = b"\xff" * size
        elif change == "extreme_ids":
            array["data"] = (b"\xff\xff\xff\x7f" * (size // 4 + 1))[:size]
        else:
            array["data"] = (b"\x00\x00\xc0\x7f" * (size // 4 + 1))[:size]
        return f"{size} bytes of data ({change})"
