"""Frames to messages and back: one reused msgspec encoder and decoder, limits, typed errors.

Decoding a frame from the network happens in five passes, each cheap, so that nothing large is
allocated before the frame is known to be acceptable:

1. the frame length against :attr:`Limits.max_frame_bytes`, before reading a byte;
2. a head decode that reads only ``kind``, ``version`` and ``minor`` (msgspec skips every other
   value without allocating), so a newer major is refused with a clear message even when its
   fields no longer fit this schema, and an unknown kind is named as such;
3. the typed decode of the whole union, where msgspec checks every type and every schema cap
   (string, list and map lengths) from the msgpack headers as it goes;
4. checks of what the schema cannot express: array dtype and data length, array element
   counts, nesting of free-form maps, ``rank < world_size``, and what the fields of a kind must
   agree on (:mod:`~protocol.constraints`: element families, shapes, list lengths);
5. no map repeats a key, and unknown keys keep the schema caps (:mod:`~protocol.raw_frames`):
   free for a frame that is the reference encoding of its message, a walk over the maps of any
   other frame.

A frame that fits every kind's limit may take pass 3 first: when it decodes and is byte for byte
the reference encoding of its message (every frame this project's senders write), its version
and minor are the ones it names, and pass 2 would learn nothing more. Any other such frame is
given pass 2 after all, before any error is raised, so every frame gets the same verdict and
error either way.

Every failure surfaces as a :class:`~protocol.errors.ProtocolError` subclass with the field path.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from stratlog.protocol.constraints import check_arrays
from stratlog.protocol.envelope import PROTOCOL_MAJOR, PROTOCOL_MINOR
from stratlog.protocol.errors import (
    FrameTooLarge,
    InvalidMessage,
    LimitExceeded,
    MalformedFrame,
    ProtocolError,
    UnknownKind,
    UnsupportedVersion,
)
from stratlog.protocol.events import RunStart
from stratlog.protocol.limits import DEFAULT_LIMITS, MAX_ITEMS, MAX_STRING_LENGTH, Limits, Text
from stratlog.protocol.messages import MESSAGE_TYPES, Message, kind_of
from stratlog.protocol.raw_frames import check_map_keys, is_map, malformed_reason


class _Head(msgspec.Struct):
    """The part of a frame read before committing to a full decode."""

    kind: Text
    version: int
    minor: int = 0


_ENCODER = msgspec.msgpack.Encoder()
_HEAD_DECODER = msgspec.msgpack.Decoder(_Head)
_MESSAGE_DECODER = msgspec.msgpack.Decoder(Message)
_MESSAGE_CLASSES = tuple(MESSAGE_TYPES.values())

_DECODE_FAILURES = (msgspec.MsgspecError, RecursionError, UnicodeDecodeError)
"""What msgspec raises on bad input: its own errors, and two it lets through from Python."""
_FREE_FORM_FIELDS = ("model_config", "training_args")
_JSON_SCALARS = (str, int, float, bool, type(None))
_MSGSPEC_ERROR = re.compile(r"^(?P<reason>.*?)(?: - at (?:`key` in )?`(?P<path>[^`]*)`)?$", re.DOTALL)
"""msgspec's "<detail> - at `$.path`" (or "at `key` in `$.path`" for a map key), split."""


def _frame_limit(kind: str, limits: Limits) -> int:
    if kind == "run_start":
        return min(limits.max_frame_bytes, limits.max_run_start_bytes)
    return limits.max_frame_bytes


def _unsupported(version: int, minor: int, kind: str) -> UnsupportedVersion:
    """The error for a major version other than this receiver's, saying which way to upgrade."""
    newer = version > PROTOCOL_MAJOR
    return UnsupportedVersion(
        f"frame uses protocol {version}.{minor}; this receiver reads "
        f"{PROTOCOL_MAJOR}.x (up to {PROTOCOL_MAJOR}.{PROTOCOL_MINOR})" + ("; upgrade the receiver" if newer else ""),
        path="$.version",
        kind=kind,
    )


def encode(message: Message) -> bytes:
    """Encode a message as one frame (a msgpack map) for one single-part ZeroMQ message.

    Raises FrameTooLarge if a default receiver would refuse the frame, so the sender learns of
    it (and can report an error event) instead of the sink silently rejecting it.
    """
    if not isinstance(message, _MESSAGE_CLASSES):
        raise TypeError(f"encode() takes a protocol message, got {type(message).__name__}")
    frame = _ENCODER.encode(message)
    limit = _frame_limit(kind_of(message), DEFAULT_LIMITS)
    if len(frame) > limit:
        raise FrameTooLarge(
            f"encoded frame of {len(frame)} bytes exceeds the default receiver limit of {limit}",
            kind=kind_of(message),
        )
    return frame


def _translate(error: Exception, frame: Any, kind: str | None) -> ProtocolError:
    """Turn a msgspec (or recursion) error into the matching typed error, keeping the path.

    Which class a frame gets, and the reason it gives for a frame that is not msgpack at all,
    come from our own look at the frame (:func:`~protocol.raw_frames.malformed_reason`), never
    from the wording of msgspec's message, which changes between its releases. msgspec's text
    still supplies the field path and, for a schema break, the detail.
    """
    if isinstance(error, RecursionError):
        return LimitExceeded("nesting too deep to decode", kind=kind)
    if not isinstance(error, msgspec.ValidationError):
        return MalformedFrame(malformed_reason(frame), kind=kind)
    match = _MSGSPEC_ERROR.match(str(error))
    reason, path = match["reason"], match["path"] or "$"
    if path == "$" and not is_map(frame):
        return MalformedFrame("frame is not a msgpack map", kind=kind)
    if "of length <=" in reason:
        return LimitExceeded(reason, path=path, kind=kind)
    return InvalidMessage(reason, path=path, kind=kind)


class MessageDecoder:
    """Decodes untrusted frames under one set of :class:`Limits`.

    Reusable from any thread: it holds no state between calls, and msgspec keeps the GIL for the
    whole of each decode.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._smallest_kind_limit = min(limits.max_frame_bytes, limits.max_run_start_bytes)
        """A frame up to this size fits every kind's limit (`_frame_limit`)."""

    def decode(self, frame: bytes | bytearray | memoryview) -> Message:
        """Decode one frame, or raise a :class:`ProtocolError` saying what is wrong and where.

        A frame no larger than any kind's limit and equal to the reference encoding of what it
        decodes to (what every sender of this project writes) skips the head decode of pass 2:
        such a frame names its ``version`` and ``minor`` itself, so the message holds them as
        sent. Any other frame, and any frame that fails the typed decode, is read as the module
        docstring says, head first, so the error raised is always the same."""
        if type(frame) is bytes:
            size = len(frame)
        else:
            try:
                size = memoryview(frame).nbytes
            except TypeError:
                raise MalformedFrame(f"a frame must be bytes-like, got {type(frame).__name__}") from None
        if size > self._smallest_kind_limit:  # the kind's own limit may refuse it: read the head first
            return self._decode_read_head_first(frame, size)
        try:
            message = _MESSAGE_DECODER.decode(frame)
        except _DECODE_FAILURES as error:
            raise _translate(error, frame, self._decode_head(frame).kind) from None
        reference = _ENCODER.encode(message)
        if reference != (frame if type(frame) is bytes else bytes(frame)):
            return self._finish(frame, message, self._decode_head(frame), reference)
        kind = message.__struct_config__.tag
        if message.version != PROTOCOL_MAJOR:
            raise _unsupported(message.version, message.minor, kind)
        self._check(message, kind)
        return message

    def _decode_read_head_first(self, frame: Any, size: int) -> Message:
        if size > self.limits.max_frame_bytes:
            raise FrameTooLarge(f"frame of {size} bytes exceeds max_frame_bytes={self.limits.max_frame_bytes}")
        head = self._decode_head(frame)
        limit = _frame_limit(head.kind, self.limits)
        if size > limit:
            raise FrameTooLarge(f"frame of {size} bytes exceeds its kind's limit of {limit}", kind=head.kind)
        try:
            message = _MESSAGE_DECODER.decode(frame)
        except _DECODE_FAILURES as error:
            raise _translate(error, frame, head.kind) from None
        return self._finish(frame, message, head, _ENCODER.encode(message))

    def _finish(self, frame: Any, message: Message, head: _Head, reference: bytes) -> Message:
        """Passes 4 and 5 of a frame whose head was read."""
        self._check(message, head.kind)
        if reference != (frame if type(frame) is bytes else bytes(frame)):
            check_map_keys(frame, type(message), head.kind)
        message.minor = head.minor  # a frame without `minor` is 1.0, not this receiver's minor
        return message

    def _decode_head(self, frame: Any) -> _Head:
        try:
            head = _HEAD_DECODER.decode(frame)
        except _DECODE_FAILURES as error:
            raise _translate(error, frame, None) from None
        if head.version != PROTOCOL_MAJOR:
            raise _unsupported(head.version, head.minor, head.kind)
        if head.kind not in MESSAGE_TYPES:
            newer = head.minor > PROTOCOL_MINOR
            raise UnknownKind(
                f"unknown message kind {head.kind!r}"
                + (f" (from newer minor version {head.version}.{head.minor}; skip it)" if newer else "")
                + f"; known kinds: {', '.join(MESSAGE_TYPES)}",
                path="$.kind",
            )
        return head

    def _check(self, message: Message, kind: str) -> None:
        """Checks the schema cannot express; see the module docstring, pass 4."""
        if message.rank >= message.world_size:
            raise InvalidMessage(
                f"rank {message.rank} is not below world_size {message.world_size}",
                path="$.rank",
                kind=kind,
            )
        check_arrays(message, kind, self.limits.max_array_elements)
        if isinstance(message, RunStart):
            for name in _FREE_FORM_FIELDS:
                self._check_free_form(getattr(message, name), f"$.{name}", kind, depth=1)

    def _check_free_form(self, value: Any, path: str, kind: str, depth: int) -> None:
        """Free-form maps must stay JSON-like, shallow, and within the schema caps."""
        if isinstance(value, _JSON_SCALARS):
            if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
                raise LimitExceeded(
                    f"string of {len(value)} characters exceeds {MAX_STRING_LENGTH}", path=path, kind=kind
                )
            return
        if not isinstance(value, (list, dict)):
            raise InvalidMessage(
                f"free-form value of type {type(value).__name__} is not JSON-like", path=path, kind=kind
            )
        if depth > self.limits.max_depth:
            raise LimitExceeded(
                f"nesting deeper than max_depth={self.limits.max_depth}", path=path, kind=kind
            )
        if len(value) > MAX_ITEMS:
            raise LimitExceeded(f"{len(value)} items exceed {MAX_ITEMS}", path=path, kind=kind)
        if isinstance(value, list):
            for index, item in enumerate(value):
                self._check_free_form(item, f"{path}[{index}]", kind, depth + 1)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidMessage(f"map key {key!r} is not a string", path=path, kind=kind)
            child = f"{path}.{key[:64]}"  # an overlong key must not make an overlong message
            self._check_free_form(key, child, kind, depth + 1)
            self._check_free_form(item, child, kind, depth + 1)


_DEFAULT_DECODER = MessageDecoder()


def decode(frame: bytes | bytearray | memoryview) -> Message:
    """Decode one frame with the default :class:`Limits`; see :meth:`MessageDecoder.decode`."""
    return _DEFAULT_DECODER.decode(frame)
