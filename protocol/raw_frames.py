"""What the decoder reads from a frame's raw msgpack beside msgspec's typed decode: why bytes are
not one msgpack map, and whether a map repeats a key.

msgspec, like most msgpack libraries, lets a later duplicate key overwrite an earlier one, so
``{"rank": 0, "rank": 5}`` decodes as rank 5 here and as rank 0 in a first-wins decoder: one frame,
two meanings. PROTOCOL.md makes such a frame invalid; the same walk counts the keys msgspec
skips (unknown ones) against the schema caps. Finding a repeat costs nothing for frames
the reference encoder wrote: a frame byte-equal to the re-encoding of its decoded message holds
each key once (the codec checks that first, one encode and one memcmp). Any other frame (another
encoder, a newer minor's extra keys, a 1.0 frame without 1.1's fields) is walked here: every map
the receiver reads, with msgspec's zero-copy ``Raw`` values, comparing the entries a map header
declares with the distinct keys decoded. Values of unknown keys are skipped unread, as the
versioning rules say.

Nothing here builds Python objects for a frame's elements: a refused frame is parsed with
msgpack-python's ``skip()``, which allocates nothing per element (a full unpack of a 4 MiB frame
of declared-but-absent list elements can allocate tens of MiB).
"""

from __future__ import annotations

import typing
from typing import Any

import msgpack
import msgspec

from stratlog.protocol.errors import InvalidMessage, LimitExceeded, MalformedFrame
from stratlog.protocol.limits import MAX_ITEMS, MAX_STRING_LENGTH

_RAW_MAP = msgspec.msgpack.Decoder(dict[str, msgspec.Raw])
_RAW_LIST = msgspec.msgpack.Decoder(list[msgspec.Raw])


def is_map(frame: Any) -> bool:
    """True if the first byte of ``frame`` starts a msgpack map (fixmap, map 16, map 32)."""
    first = memoryview(frame)[:1].tobytes()
    return bool(first) and (0x80 <= first[0] <= 0x8F or first[0] in (0xDE, 0xDF))


def malformed_reason(frame: Any) -> str:
    """Why bytes that msgspec refused as msgpack are not one msgpack value, in our own words.

    msgpack-python's ``skip()`` walks the structure without building values: out of data (a
    declared length past the end), a byte that is no msgpack type, nesting past its stack, bytes
    left after the value. When the structure is whole, what msgspec refused is the one thing it
    checks inside a value while decoding: a string whose bytes are not UTF-8.
    """
    unpacker = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=max(len(frame), 1))
    unpacker.feed(frame)
    try:
        unpacker.skip()
    except msgpack.OutOfData:
        return "frame is truncated: it ends inside a msgpack value"
    except msgpack.FormatError:
        return "invalid msgpack: a byte that starts no msgpack type"
    except msgpack.StackError:
        return "nesting too deep to decode"
    except (ValueError, msgpack.UnpackException):
        return "not a well-formed msgpack frame"
    if unpacker.tell() < len(frame):
        return f"trailing bytes after the message: {len(frame) - unpacker.tell()} bytes follow its map"
    return "a string is not valid UTF-8"


_STRUCT, _STRUCT_LIST, _FLAT_MAP, _FREE_FORM = "struct", "struct_list", "flat_map", "free_form"


def _field_reader(annotation: Any) -> tuple[str, Any] | None:
    """How a field's raw value is walked: as a struct map, a list of them, a map, or not at all."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _STRUCT, annotation
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], msgspec.Struct):
        return _STRUCT_LIST, args[0]
    if origin is dict:
        value = args[1] if len(args) == 2 else Any
        return (_FREE_FORM if value is Any else _FLAT_MAP), None
    return None


_READERS: dict[type, dict[str, tuple[str, Any]]] = {}


def _readers(cls: type) -> dict[str, tuple[str, Any]]:
    """Field name -> reader for the fields of ``cls`` that hold maps (built once per class)."""
    readers = _READERS.get(cls)
    if readers is None:
        readers = {}
        for field in msgspec.structs.fields(cls):
            reader = _field_reader(field.type)
            if reader is not None:
                readers[field.encode_name] = reader
        _READERS[cls] = readers
    return readers


def check_map_keys(frame: Any, message_class: type, kind: str) -> None:
    """Raise a :class:`ProtocolError` if a map the receiver reads holds a key twice
    (InvalidMessage), more entries than MAX_ITEMS or a key longer than MAX_STRING_LENGTH
    (LimitExceeded: msgspec does not count unknown keys), or a key that is not UTF-8
    (MalformedFrame).

    Called only for frames that msgspec decoded as ``message_class`` and that are not the
    reference encoding of their message, so every map here is known to be well-formed.
    """
    try:
        _check_struct(frame, message_class, "$", kind)
    except msgspec.DecodeError:  # msgspec skips unknown keys without reading their UTF-8
        raise MalformedFrame(malformed_reason(frame), kind=kind) from None


def _entries(raw: Any, path: str, kind: str) -> dict[str, msgspec.Raw]:
    declared = _declared_entries(raw)
    if declared > MAX_ITEMS:
        raise LimitExceeded(f"map of {declared} entries exceeds {MAX_ITEMS}", path=path, kind=kind)
    entries = _RAW_MAP.decode(raw)
    if len(entries) != declared:
        key = _first_repeat(raw)
        raise InvalidMessage(f"key {key[:64]!r} appears twice in one map", path=f"{path}.{key[:64]}", kind=kind)
    if entries and max(map(len, entries)) > MAX_STRING_LENGTH:
        key = max(entries, key=len)
        raise LimitExceeded(
            f"key of {len(key)} characters exceeds {MAX_STRING_LENGTH}", path=f"{path}.{key[:64]}", kind=kind
        )
    return entries


def _check_struct(raw: Any, cls: type, path: str, kind: str) -> None:
    readers = _readers(cls)
    for name, value in _entries(raw, path, kind).items():
        reader = readers.get(name)
        if reader is None:
            continue  # a scalar field, or an unknown key whose value is skipped unread
        how, inner = reader
        child = f"{path}.{name}"
        if how == _STRUCT:
            _check_struct(value, inner, child, kind)
        elif how == _STRUCT_LIST:
            for index, item in enumerate(_RAW_LIST.decode(value)):
                _check_struct(item, inner, f"{child}[{index}]", kind)
        elif how == _FLAT_MAP:
            _entries(value, child, kind)
        else:
            _check_free_form(value, child, kind)


def _check_free_form(raw: Any, path: str, kind: str) -> None:
    """A JSON-like value: every map in it, at any depth (the decoder has bounded its nesting)."""
    first = memoryview(raw)[0]
    if 0x80 <= first <= 0x8F or first in (0xDE, 0xDF):
        for key, value in _entries(raw, path, kind).items():
            _check_free_form(value, f"{path}.{key[:64]}", kind)
    elif 0x90 <= first <= 0x9F or first in (0xDC, 0xDD):
        for index, item in enumerate(_RAW_LIST.decode(raw)):
            _check_free_form(item, f"{path}[{index}]", kind)


def _declared_entries(raw: Any) -> int:
    """The entry count in a msgpack map header."""
    view = memoryview(raw)
    first = view[0]
    if first == 0xDE:
        return int.from_bytes(view[1:3], "big")
    if first == 0xDF:
        return int.from_bytes(view[1:5], "big")
    return first & 0x0F


def _first_repeat(raw: Any) -> str:
    """The first key seen twice in a map, read key by key (only for a map known to repeat one)."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(bytes(raw))
    seen: set[str] = set()
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        if key in seen:
            return key
        seen.add(key)
        unpacker.skip()
    raise AssertionError("a map whose decoded keys are fewer than its entries repeats a key")
