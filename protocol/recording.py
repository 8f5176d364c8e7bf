"""The recording file format: a header, then self-checking records of received frames.

A recording must survive the sink being killed mid-write and disks flipping bits, and still be
readable months later, so the format is deliberately plain (all integers little-endian):

    file header   magic "STRATREC" (8 bytes) | format version u16 | writer length u16 |
                  writer (UTF-8, free text) | CRC-32 of the preceding header bytes u32
    record        mark C1 52 45 43 (4) | frame length u32 | received_at f64 | step i64 |
                  CRC-32 of the frame u32 | CRC-32 of the 28 bytes before it u32 | frame

The record mark starts with 0xC1, the one byte msgpack never uses as a type, so it can appear
in a frame only inside string or binary data; with the header checksum, a reader that lost
its place finds the next record by scanning for the mark. The separate header checksum lets a
reader trust a record's length (and skip its frame) without reading the frame.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from stratlog.protocol.envelope import PROTOCOL_MAJOR, PROTOCOL_MINOR
from stratlog.protocol.errors import RecordingError

FILE_MAGIC = b"STRATREC"
FORMAT_VERSION = 1
WRITER = f"stratlog-protocol {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"

RECORD_MARK = b"\xc1REC"
RECORD_HEADER = struct.Struct("<4sIdqII")
"""Mark, frame length, received_at, step, frame CRC-32, header CRC-32: 32 bytes."""
RECORD_HEADER_SIZE = RECORD_HEADER.size
_CHECKED_HEADER = struct.Struct("<4sIdqI")
"""The record header up to its own checksum (RECORD_HEADER's first five fields)."""
_CRC = struct.Struct("<I")
_FILE_HEADER_FIXED = struct.Struct("<8sHH")


@dataclass(frozen=True, slots=True)
class Record:
    """One received frame, as the sink recorded it."""

    received_at: float
    """When the sink received the frame, Unix seconds."""
    step: int
    """The frame's training step as the sink decoded it, -1 if unknown (undecodable frame)."""
    frame: bytes
    """The frame exactly as received."""


@dataclass(frozen=True, slots=True)
class Damage:
    """A byte range a reader skipped, and why."""

    path: str
    offset: int
    length: int
    reason: str
    torn_tail: bool = False
    """The file ends in a record cut short: what a writer killed mid-write leaves (at most the
    record being written), where other damage loses records that were written whole."""


@dataclass(frozen=True, slots=True)
class FileHeader:
    """What a recording file says about itself."""

    format_version: int
    writer: str
    size: int
    """Header length in bytes: records start here."""


def pack_file_header(writer: str = WRITER) -> bytes:
    encoded = writer.encode()
    body = _FILE_HEADER_FIXED.pack(FILE_MAGIC, FORMAT_VERSION, len(encoded)) + encoded
    return body + struct.pack("<I", zlib.crc32(body))


def unpack_file_header(data: bytes, path: str) -> FileHeader | None:
    """Parse a file header from the start of ``data`` (the first bytes of the file).

    Returns None when the header is damaged or truncated but the magic (or a prefix of it, for a
    file cut short) is there; raises RecordingError when the file is not a recording at all.
    """
    magic = data[: len(FILE_MAGIC)]
    if not FILE_MAGIC.startswith(magic):
        raise RecordingError(f"{path} is not a stratlog recording (starts with {magic!r})")
    if len(data) < _FILE_HEADER_FIXED.size:
        return None
    _, version, writer_length = _FILE_HEADER_FIXED.unpack_from(data)
    size = _FILE_HEADER_FIXED.size + writer_length + 4
    if len(data) < size:
        return None
    (checksum,) = struct.unpack_from("<I", data, size - 4)
    if zlib.crc32(data[: size - 4]) != checksum:
        return None
    if version > FORMAT_VERSION:
        raise RecordingError(
            f"{path} uses recording format {version}; this reader reads up to {FORMAT_VERSION}"
        )
    if version < 1:  # an intact header naming a format that never existed: not ours to guess
        raise RecordingError(f"{path} names recording format {version}; formats start at 1")
    writer = data[_FILE_HEADER_FIXED.size : size - 4].decode(errors="replace")
    return FileHeader(format_version=version, writer=writer, size=size)


def pack_record_header(length: int, received_at: float, step: int, frame_crc: int) -> bytes:
    checked = _CHECKED_HEADER.pack(RECORD_MARK, length, received_at, step, frame_crc)
    return checked + _CRC.pack(zlib.crc32(checked))


def record_header_is_valid(data: bytes | memoryview, offset: int = 0) -> bool:
    """True if a complete record header with a good mark and checksum starts at ``offset``."""
    end = offset + RECORD_HEADER_SIZE
    if len(data) < end or data[offset : offset + 4] != RECORD_MARK:
        return False
    (checksum,) = struct.unpack_from("<I", data, end - 4)
    return zlib.crc32(data[offset : end - 4]) == checksum


def rotated_path(path: str, index: int) -> str:
    """File ``index`` of a rotated set: ``path`` itself, then ``path.1``, ``path.2``, ..."""
    return path if index == 0 else f"{path}.{index}"
