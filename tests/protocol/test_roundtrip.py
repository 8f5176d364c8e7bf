"""Property tests: every message kind survives encode -> decode unchanged.

Strategies are derived from the message classes' own msgspec type information, so a field
added to a message is covered without touching this file. Frames are compared after a second
encode (bytes equality), which also holds for NaN floats.

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

from stratlog.protocol import MESSAGE_TYPES, PROTOCOL_MAJOR, WIRE_DTYPES, Array, decode, encode, kind_of
from stratlog.protocol.arrays import _ITEMSIZES

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
        return st.integers(low, INT64[1])
    if isinstance(info, mi.FloatType):
        return st.floats()
    if isinstance(info, mi.StrType):
        return texts
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
    return st.builds(cls, **fields).filter(lambda m: m.rank < m.world_size)


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_kind_round_trips(kind: str, data: st.DataObject) -> None:
    message = data.draw(messages(MESSAGE_TYPES[kind]))
    frame = encode(message)
    decoded = decode(frame)
    assert type(decoded) is type(message) and kind_of(decoded) == kind
    assert encode(decoded) == frame


@settings(max_examples=200, deadline=None)
@given(array=arrays())
def test_every_dtype_round_trips_inside_a_message(array: Array) -> None:
    message = MESSAGE_TYPES["input_snapshot"](
        run_id="r",
        rank=0,
        world_size=1,
        seq=0,
        step=0,
        time=0.0,
        tensors=[],
        input_ids=array,
        segments=[],
        sample_ids=[],
        speakers=[],
        languages=[],
    )
    decoded = decode(encode(message))
    assert decoded.input_ids == array
    assert decoded.input_ids.to_numpy().shape == tuple(array.shape)


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
