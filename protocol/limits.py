"""Size limits: the schema's fixed caps and the decoder's configurable ones.

Two kinds of limit keep a receiver's memory bounded whatever bytes arrive:

* Schema caps (module constants) are part of the wire format: every string, list, map and
  shape in a message carries one, and the decoder checks each while it decodes, reading only
  the msgpack length header, so a frame that declares four billion elements costs nothing. They
  matter because a one-byte msgpack element can become a 30-70 byte Python object.
* :class:`Limits` are per-receiver settings checked before decoding (frame bytes) or right
  after it (array elements, nesting depth of free-form maps).

The annotated types below are what the message modules use, so a cap is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Any

from msgspec import Meta

MAX_STRING_LENGTH = 65_536
"""Longest string anywhere in a message, in characters (its UTF-8 form is at most 4x that)."""

MAX_ITEMS = 65_536
"""Most elements of any list and most entries of any map in a message."""

MAX_NDIM = 32
"""Most dimensions of an array shape (NumPy's own limit is 64)."""

MAX_DEPTH_CEILING = 200
"""Highest allowed :attr:`Limits.max_depth`; the decoder's own stack stops deeper input anyway."""

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
"""Every integer on the wire is in the signed 64-bit range: msgpack can also carry 2^63 .. 2^64 - 1
(uint 64), which a receiver in a language with signed 64-bit integers could not hold."""

Text = Annotated[str, Meta(max_length=MAX_STRING_LENGTH)]
Int = Annotated[int, Meta(ge=INT_MIN, le=INT_MAX)]
Count = Annotated[int, Meta(ge=0, le=INT_MAX)]
"""PROTOCOL.md's ``uint``: 0 .. 2^63 - 1."""
TextList = Annotated[list[Text], Meta(max_length=MAX_ITEMS)]
IntList = Annotated[list[Int], Meta(max_length=MAX_ITEMS)]
FloatMap = Annotated[dict[Text, float], Meta(max_length=MAX_ITEMS)]
FreeFormMap = Annotated[dict[Text, Any], Meta(max_length=MAX_ITEMS)]
"""JSON-like values (None, bool, int, float, str, lists, string-keyed maps), checked after decoding."""


@dataclass(frozen=True)
class Limits:
    """What one receiver accepts; the defaults suit a sink on the same host as the trainer."""

    max_frame_bytes: int = 4 * 1024 * 1024
    """Longest frame, checked before any decoding (the four full-size snapshots of a step take
    about 52 KiB together)."""

    max_run_start_bytes: int = 256 * 1024
    """Longest ``run_start`` frame. Its free-form config maps are the one place where decoded
    memory can reach about 70x the wire size (nested empty lists), so they get a tighter cap."""

    max_array_elements: int = 1 << 20
    """Most elements (product of the shape) of one array."""

    max_depth: int = 32
    """Deepest nesting of a free-form map (``model_config``, ``training_args``); the map itself
    is level 1. At most MAX_DEPTH_CEILING, so that checking it never exhausts Python's stack."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{field.name} must be a positive int, got {value!r}")
        if self.max_depth > MAX_DEPTH_CEILING:
            raise ValueError(f"Limits.max_depth must be at most {MAX_DEPTH_CEILING}, got {self.max_depth}")


DEFAULT_LIMITS = Limits()
