"""Arrays on the wire: a dtype name from a whitelist, a shape, and raw little-endian bytes.

Numeric tables travel as ``{"dtype": "float32", "shape": [28, 24], "data": <bin>}`` so that any
language reads them with one memcpy, and so that nothing executable ever crosses the wire:
no pickle, no object arrays, no msgpack-numpy (which unpickles). Names rather than NumPy dtype
strings keep the format language-neutral and the byte order fixed (little-endian, C order).

bfloat16 has no NumPy dtype. It travels as its raw 16-bit patterns; a torch sender builds it
with ``Array(dtype="bfloat16", shape=list(t.shape),
data=t.contiguous().view(torch.int16).cpu().numpy().tobytes())`` (little-endian hosts), and
:meth:`Array.to_numpy` widens it to float32 exactly (bfloat16 is the top half of a float32).
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import numpy as np
from msgspec import Meta

from stratlog.protocol.errors import InvalidArray, LimitExceeded
from stratlog.protocol.limits import MAX_NDIM, Int, Text

WIRE_DTYPES: dict[str, np.dtype] = {
    "bool": np.dtype("?"),
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "float16": np.dtype("<f2"),
    "bfloat16": np.dtype("<u2"),
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
}
"""The dtype whitelist, each name mapped to the NumPy dtype of its bytes on the wire."""

INTEGER_DTYPES = frozenset({"int8", "uint8", "int16", "int32", "int64"})
FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})
"""The two families a field may name instead of one dtype ("integer", "float" in PROTOCOL.md);
``bool`` belongs to neither."""

_ITEMSIZES = {name: dtype.itemsize for name, dtype in WIRE_DTYPES.items()}
_WHITELIST = ", ".join(WIRE_DTYPES)


class Array(msgspec.Struct, kw_only=True):
    """An n-dimensional array: ``prod(shape) * itemsize(dtype) == len(data)``."""

    dtype: Text
    """One of :data:`WIRE_DTYPES`."""
    shape: Annotated[list[Int], Meta(max_length=MAX_NDIM)]
    """Dimensions, each >= 0; ``[]`` is a scalar (one element)."""
    data: bytes
    """The elements, little-endian, C (row-major) order."""

    @classmethod
    def from_numpy(cls, array: np.ndarray) -> Array:
        """Copy a NumPy array of a whitelisted dtype, whatever its byte order or layout."""
        name = array.dtype.name
        if name not in _ITEMSIZES or name == "bfloat16":
            raise InvalidArray(
                f"NumPy dtype {array.dtype} cannot be sent; whitelist: {_WHITELIST} "
                "(bfloat16 from torch: see the protocol.arrays docstring)"
            )
        wire = np.asarray(array, dtype=WIRE_DTYPES[name], order="C")
        return cls(dtype=name, shape=list(wire.shape), data=wire.tobytes())

    def to_numpy(self) -> np.ndarray:
        """View the data as NumPy (read-only, no copy); bfloat16 comes back as float32."""
        wire = WIRE_DTYPES.get(self.dtype)
        if wire is None:
            raise InvalidArray(f"dtype {self.dtype!r} is not one of {_WHITELIST}")
        shape = self.shape
        if len(shape) == 1 and type(shape[0]) is int and shape[0] * wire.itemsize == len(self.data):
            array = np.frombuffer(self.data, wire)  # most arrays: the same view, with half the checking to pay
        else:
            try:
                array = np.ndarray(shape, wire, self.data)
            except (TypeError, ValueError) as error:  # buffer too small, negative dimension
                raise InvalidArray(f"{len(self.data)} bytes do not fit shape {shape}: {error}") from None
            if array.nbytes != len(self.data) or array.shape != tuple(shape):  # [-1] means "infer"
                raise InvalidArray(f"{len(self.data)} bytes do not fit shape {shape} of {self.dtype}")
        if self.dtype == "bfloat16":
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def check(self, max_elements: int, path: str = "$", kind: str | None = None) -> None:
        """Raise a typed error unless this array is well-formed and small enough.

        The decoder calls this on every array it decodes, so code above the protocol can trust
        dtype, shape and data length without checking again.
        """
        itemsize = _ITEMSIZES.get(self.dtype)
        if itemsize is None:
            raise InvalidArray(
                f"dtype {self.dtype!r} is not one of {_WHITELIST}", path=f"{path}.dtype", kind=kind
            )
        if self.shape and min(self.shape) < 0:
            raise InvalidArray(
                f"shape {self.shape} has a negative dimension", path=f"{path}.shape", kind=kind
            )
        elements = math.prod(self.shape)
        if elements > max_elements:
            raise LimitExceeded(
                f"array of shape {self.shape} has {elements} elements, "
                f"more than max_array_elements={max_elements}",
                path=path,
                kind=kind,
            )
        if len(self.data) != elements * itemsize:
            raise InvalidArray(
                f"data has {len(self.data)} bytes but shape {self.shape} of {self.dtype} "
                f"needs {elements * itemsize}",
                path=f"{path}.data",
                kind=kind,
            )
        if self.dtype == "bool" and self.data.translate(None, b"\x00\x01"):  # one C pass
            raise InvalidArray("a bool array holds a byte other than 0 and 1", path=f"{path}.data", kind=kind)
