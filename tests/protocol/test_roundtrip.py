"""Property tests: every message kind survives encode -> decode unchanged.

Strategies are derived from the message classes' own msgspec type information, so a field
added to a message is covered without touching this file, and then made to agree with the
kind's row of `protocol.constraints` (element families, shapes by letter, list lengths,
segment rows). Frames are compared after a second encode (bytes equality), which also holds
for NaN floats.

Run: python -m pytest tests/protocol/test_roundtrip.py -q
"""

from __future__ import annotations

import math

import msgspec
import msgspec.inspect as mi
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stratlog.protocol import MESSAGE_TYPES, PROTOCOL_MAJOR, WIRE_DTYPES, Array, InputSnapshot, decode, encode, kind_of
from stratlog.protocol.arrays import _ITEMSIZES
from stratlog.protocol.constraints import FAMILIES, KIND_CONSTRAINTS

INT64 = (-(2**63), 2**63 - 1)
texts = st.text(max_size=12)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers(*INT64) | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)


@st.composite
def arrays(draw: st.DrawFn) -> Array:
    """Any valid Array: every whitelisted dtype, 0-3 dimensions, empty dimensions included."""
    dtype = draw(st.sampled_from(sorted(WIRE_DTYPES)))
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    size = math.prod(shape) * _ITEMSIZES[dtype]
    return Array(dtype=dtype, shape=shape, data=draw(st.binary(min_size=size, max_size=size)))


def strategy_for(info: mi.Type) -> st.SearchStrategy:
    """A strategy for one msgspec type, honouring its constraints (kept small for speed)."""
    if isinstance(info, mi.StructType) and info.cls is Array:
        return arrays()
    if isinstance(info, mi.StructType):
        return st.builds(info.cls, **{f.name: strategy_for(f.type) for f in info.fields})
    if isinstance(info, mi.IntType):
        low = INT64[0] if info.ge is None else info.ge
        return st.integers(low, INT64[1] if info.le is None else info.le)
    if isinstance(info, mi.FloatType):
        return st.floats()
    if isinstance(info, mi.StrType):
        return texts
    if isinstance(info, mi.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, mi.ListType):
        return st.lists(strategy_for(info.item_type), max_size=min(4, info.max_length or 4))
    if isinstance(info, mi.DictType):
        return st.dictionaries(texts, strategy_for(info.value_type), max_size=4)
    if isinstance(info, mi.AnyType):
        return json_like
    raise NotImplementedError(f"no strategy for {info}")


def messages(cls: type) -> st.SearchStrategy:
    """Valid messages of one kind: current major version, rank below world size."""
    fields = {f.name: strategy_for(f.type) for f in mi.type_info(cls).fields}
    fields["version"] = st.just(PROTOCOL_MAJOR)
    fields["world_size"] = st.integers(1, 2**31)
    return st.builds(cls, **fields).filter(lambda m: m.rank < m.world_size).flatmap(agreeing)


def array_of(draw: st.DrawFn, dtype: str, shape: list[int]) -> Array:
    size = math.prod(shape) * _ITEMSIZES[dtype]
    if dtype == "bool":
        return Array(dtype=dtype, shape=shape, data=bytes(draw(st.lists(st.integers(0, 1), min_size=size, max_size=size))))
    return Array(dtype=dtype, shape=shape, data=draw(st.binary(min_size=size, max_size=size)))


@st.composite
def _agreeing(draw: st.DrawFn, message, dtypes: dict[str, str]):
    rules = KIND_CONSTRAINTS.get(type(message))
    if rules is None:
        return message
    info = {f.name: f.type for f in mi.type_info(type(message)).fields}
    letters = {letter for _, letter in rules.list_lengths} | {d for a in rules.arrays for d in a.dims}
    sizes = {letter: draw(st.integers(0, 3)) for letter in sorted(letters)}
    for field, letter in rules.list_lengths:
        item = strategy_for(info[field].item_type)
        setattr(message, field, draw(st.lists(item, min_size=sizes[letter], max_size=sizes[letter])))
    for rule in rules.arrays:
        dtype = dtypes.get(rule.field) or draw(st.sampled_from(sorted(FAMILIES[rule.family])))
        setattr(message, rule.field, array_of(draw, dtype, [sizes[d] for d in rule.dims]))
    if isinstance(message, InputSnapshot):
        batch = len(message.sample_ids)
        segments = message.segments if batch else []
        for segment in segments:
            segment.sample %= batch
            segment.start, segment.end = sorted((segment.start, segment.end))
            for field in ("repeated_code_share", "pair_similarity"):
                if not 0 <= getattr(segment, field) <= 1:
                    setattr(segment, field, -1.0)
        message.segments = segments
    return message


def agreeing(message, **dtypes: str) -> st.SearchStrategy:
    """``message`` changed to agree with its kind's constraints; ``dtypes`` fixes some arrays'."""
    return _agreeing(message, dtypes)


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_kind_round_trips(kind: str, data: st.DataObject) -> None:
    message = data.draw(messages(MESSAGE_TYPES[kind]))
    frame = encode(message)
    decoded = decode(frame)
    assert type(decoded) is type(message) and kind_of(decoded) == kind
    assert encode(decoded) == frame


HOSTS = {
    "integer": ("attention_snapshot", "max_weight_histogram"),
    "float": ("attention_snapshot", "entropy"),
    "bool": ("output_snapshot", "text_match"),
}
"""An array field of each element family, to carry every dtype of that family through decode."""


@pytest.mark.parametrize("dtype", sorted(WIRE_DTYPES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_every_dtype_round_trips_inside_a_message(dtype: str, data: st.DataObject) -> None:
    family = next(name for name, dtypes in FAMILIES.items() if dtype in dtypes)
    kind, field = HOSTS[family]
    message = data.draw(messages(MESSAGE_TYPES[kind]).flatmap(lambda m: agreeing(m, **{field: dtype})))
    decoded = decode(encode(message))
    array = getattr(decoded, field)
    assert array == getattr(message, field) and array.dtype == dtype
    assert array.to_numpy().shape == tuple(array.shape)


@pytest.mark.parametrize("dtype", sorted(set(WIRE_DTYPES) - {"bfloat16"}))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_numpy_arrays_round_trip_exactly(dtype: str, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    order = data.draw(st.sampled_from("<>"))  # big-endian input must come back little-endian
    value = data.draw(hnp.arrays(np.dtype(dtype).newbyteorder(order), shape))
    if data.draw(st.booleans()) and value.ndim:  # non-contiguous input
        value = value[::-1]
    restored = Array.from_numpy(value).to_numpy()
    assert restored.dtype == np.dtype(dtype).newbyteorder("<") and restored.shape == value.shape
    assert restored.tobytes() == np.ascontiguousarray(value, dtype=restored.dtype).tobytes()


def test_empty_and_scalar_arrays() -> None:
    for value in (np.zeros((0,), np.float32), np.zeros((3, 0, 2), np.int64), np.array(7, np.int16)):
        array = Array.from_numpy(value)
        array.check(1 << 20)
        assert np.array_equal(array.to_numpy(), value) and array.to_numpy().shape == value.shape


def test_bfloat16_widens_to_float32() -> None:
    values = np.array([1.0, -2.5, 3.140625, 0.0], dtype=np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")  # what tensor.view(torch.int16) carries
    array = Array(dtype="bfloat16", shape=[2, 2], data=bits.tobytes())
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(array), type=Array)
    assert decoded.to_numpy().dtype == np.float32
    assert np.array_equal(decoded.to_numpy(), values.reshape(2, 2))
