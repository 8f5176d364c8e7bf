"""RecordingReader: streams records back from a recording, recovering from damage.

A reader must get every intact record out of a file that was cut short (the sink was killed)
or damaged in the middle (a bad disk block), and say what it could not read. It reads record by
record through a buffered file, never the whole file. When a record is bad (wrong mark, header
checksum, frame checksum, absurd length) it scans forward for the next record mark whose header
checksum holds and resumes there; the skipped bytes become one :class:`Damage` entry. A record
cut short at the end of the file is reported the same way.

Given the first file of a rotated set (``path``), it goes on with ``path.1``, ``path.2``, ...
while they exist. ``seek_step`` hops over records before the wanted step using only their
checked headers, without reading or checking their frames, so it costs one small read per
record (100 000 records well under a second). ``records_from`` reads one file from a byte offset
on (its tail: where a restarted sink finds the sequence numbers its predecessor reached)
without reading what comes before.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from stratlog.protocol.recording import (
    RECORD_HEADER,
    RECORD_HEADER_SIZE,
    RECORD_MARK,
    Damage,
    FileHeader,
    Record,
    record_header_is_valid,
    rotated_path,
    unpack_file_header,
)

_MAX_FILE_HEADER = 8 + 2 + 2 + 0xFFFF + 4
_SCAN_CHUNK = 1 << 20
_READ_BUFFER = 1 << 20


class RecordingReader:
    """Iterate to get every intact :class:`Record`; then ``damage`` lists what was skipped."""

    def __init__(self, path: str | os.PathLike[str], *, max_record_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = os.fspath(path)
        self.max_record_bytes = max_record_bytes
        self.damage: list[Damage] = []
        """Byte ranges skipped by the latest iteration, in file order."""
        with open(self.path, "rb") as file:
            self.header: FileHeader | None = unpack_file_header(file.read(_MAX_FILE_HEADER), self.path)
        """The first file's header; None if it is damaged (its records are still read)."""

    @property
    def paths(self) -> list[str]:
        """The files of the set as they exist now: ``path``, ``path.1``, ..."""
        paths = [self.path]
        while os.path.exists(candidate := rotated_path(self.path, len(paths))):
            paths.append(candidate)
        return paths

    def __iter__(self) -> Iterator[Record]:
        return self._records(from_step=None)

    def seek_step(self, step: int) -> Iterator[Record]:
        """Records from the first one whose step is >= ``step`` onwards, in file order.

        Records before it are skipped by their checked headers alone (their frames are neither
        read nor checked), so damage is reported only from the found record on, plus any
        broken record header met on the way.
        """
        return self._records(from_step=step)

    def records_from(self, path: str, offset: int) -> Iterator[Record]:
        """The records of ``path`` (one file of the set) from the first whole record at or after
        ``offset``: found by the same checked record mark that recovery resumes at."""
        self.damage = []
        with open(path, "rb", buffering=_READ_BUFFER) as file:
            yield from self._file_records(file, path, None, start=offset)

    def _records(self, from_step: int | None) -> Iterator[Record]:
        self.damage = []
        for path in self.paths:
            with open(path, "rb", buffering=_READ_BUFFER) as file:
                for record in self._file_records(file, path, from_step):
                    from_step = None
                    yield record

    def _file_records(self, file: BinaryIO, path: str, from_step: int | None, start: int = 0) -> Iterator[Record]:
        file_size = os.fstat(file.fileno()).st_size
        offset = self._records_start(file, path, file_size)
        if start > offset:
            offset = self._find_next_record(file, start, file_size)
        while offset < file_size:
            file.seek(offset)
            head = file.read(RECORD_HEADER_SIZE)
            if len(head) < RECORD_HEADER_SIZE:
                self._skip(path, offset, file_size - offset, "record header cut short at end of file", torn_tail=True)
                return
            problem = None
            _, length, received_at, step, frame_crc, _ = RECORD_HEADER.unpack(head)
            end = offset + RECORD_HEADER_SIZE + length
            if not record_header_is_valid(head):
                problem = "bad record header (mark or header checksum)"
            elif length > self.max_record_bytes:
                problem = f"record length {length} exceeds max_record_bytes={self.max_record_bytes}"
            elif end > file_size:
                self._skip(
                    path,
                    offset,
                    file_size - offset,
                    f"record cut short at end of file ({file_size - offset - RECORD_HEADER_SIZE} "
                    f"of {length} frame bytes)",
                    torn_tail=True,
                )
                return
            elif from_step is not None and step < from_step:
                offset = end
                continue
            else:
                frame = file.read(length)
                if zlib.crc32(frame) == frame_crc:
                    from_step = None
                    yield Record(received_at=received_at, step=step, frame=frame)
                    offset = end
                    continue
                problem = "frame checksum mismatch"
            resume = self._find_next_record(file, offset + 1, file_size)
            self._skip(path, offset, resume - offset, problem)
            offset = resume

    def _records_start(self, file: BinaryIO, path: str, file_size: int) -> int:
        """Offset of the first record: after the file header, or where a scan finds one."""
        file.seek(0)
        header = unpack_file_header(file.read(_MAX_FILE_HEADER), path)
        if header is not None:
            return header.size
        resume = self._find_next_record(file, 1, file_size)
        self._skip(path, 0, resume, "file header damaged or cut short")
        return resume

    def _find_next_record(self, file: BinaryIO, start: int, file_size: int) -> int:
        """Offset of the next record header that checks out at or after ``start``, else EOF."""
        position = start
        while position < file_size:
            file.seek(position)
            # Overlap chunks by a header's length so a header across a boundary is still seen.
            chunk = file.read(_SCAN_CHUNK + RECORD_HEADER_SIZE - 1)
            index = chunk.find(RECORD_MARK)
            while 0 <= index < _SCAN_CHUNK:
                if record_header_is_valid(chunk, index):
                    return position + index
                index = chunk.find(RECORD_MARK, index + 1)
            position += _SCAN_CHUNK
        return file_size

    def _skip(self, path: str, offset: int, length: int, reason: str, *, torn_tail: bool = False) -> None:
        if length > 0:
            self.damage.append(Damage(path=path, offset=offset, length=length, reason=reason, torn_tail=torn_tail))
