"""Typed errors raised by the protocol: what went wrong, and where.

A sink faces bytes from the network and from recordings made months ago, so every way a frame
can be wrong maps to one class below, all under :class:`ProtocolError`. A caller that wants to
survive bad input catches ``ProtocolError`` alone; a caller that wants to count or report by
cause looks at the subclass and at ``path`` (a JSONPath-like location such as
``$.tensors[2].shape``, ``$`` for the frame as a whole) and ``kind`` (the message kind when it
was known).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error the decoder and the recording reader raise on bad input."""

    def __init__(self, message: str, *, path: str = "$", kind: str | None = None) -> None:
        self.path = path
        self.kind = kind
        self.reason = message
        where = f" - at `{path}`" if path != "$" else ""
        of_kind = f" (kind {kind!r})" if kind else ""
        super().__init__(f"{message}{where}{of_kind}")


class FrameTooLarge(ProtocolError):
    """The frame is longer than the decoder's limit; it was refused before any decoding."""


class MalformedFrame(ProtocolError):
    """The bytes are not one well-formed msgpack map (truncated, invalid opcode, trailing bytes)."""


class InvalidMessage(ProtocolError):
    """Well-formed msgpack whose content breaks the schema (wrong type, missing field, bad value)."""


class UnknownKind(InvalidMessage):
    """The ``kind`` field names no message kind this receiver knows."""


class InvalidArray(InvalidMessage):
    """An array whose dtype is not whitelisted or whose data length does not match its shape."""


class LimitExceeded(ProtocolError):
    """A string, list, map, array or nesting level is larger than the protocol allows."""


class UnsupportedVersion(ProtocolError):
    """The frame's major protocol version is not one this receiver can read."""


class RecordingError(ProtocolError):
    """A file is not a recording this reader can read (wrong magic, newer format version)."""
