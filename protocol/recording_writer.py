"""RecordingWriter: appends received frames to a recording, crash-safe, optionally rotating.

Flush policy, and why: by default each record goes to the operating system with one ``writev``
call as it is written (nothing waits in a process buffer), so if the process dies, at most the
record being written is torn, and the reader skips exactly that. A writer told to `hold` (the
live sink, while it works through a backlog) keeps records in memory instead and hands them over
in one ``writev`` a batch, a tenth of the system-call cost per small record: a batch goes out
with the first record written once the hold has passed, at HOLD_BYTES or HOLD_RECORDS, or at
`flush()` or close(), which its caller calls when it has nothing more to write (the live sink,
before it waits). A killed process loses at most the records held, whole (never the file's
shape). A background thread makes the file durable with ``fsync`` every ``flush_interval_s``
while there is unsynced data, and close() syncs the rest, so an operating-system crash or power
loss costs at most about ``flush_interval_s`` of data. The thread syncs a duplicate of the file descriptor, so a slow
disk never holds up ``write()``.

Rotation: with ``rotate_bytes`` set, a record that would take the current file past it starts
a new file: ``path``, then ``path.1``, ``path.2``, ... each a complete recording with its own
header. Files are created exclusively: a writer never overwrites an existing recording.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import zlib
from types import TracebackType

from stratlog.protocol.recording import RECORD_HEADER_SIZE, pack_file_header, pack_record_header, rotated_path

_MAX_FRAME = 0xFFFF_FFFF
_FILE_HEADER = pack_file_header()
HOLD_BYTES = 1 << 20
"""Most bytes a writer told to `hold` keeps in memory."""
HOLD_RECORDS = 512
"""Most records it keeps: two buffers each, and one ``writev`` takes at most 1 024 (Linux's IOV_MAX)."""


class RecordingWriter:
    """Writes :class:`~protocol.recording.Record` entries; safe to call from several threads.

    Close it (or use it as a context manager): close() syncs the data and stops the sync thread.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, flush_interval_s: float = 1.0, rotate_bytes: int | None = None
    ) -> None:
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0 seconds, got {flush_interval_s!r}")
        if rotate_bytes is not None and rotate_bytes < 1:
            raise ValueError(f"rotate_bytes must be a positive byte count or None, got {rotate_bytes!r}")
        self._base = os.fspath(path)
        self._flush_interval_s = flush_interval_s
        self._rotate_bytes = rotate_bytes
        self._hold_s = 0.0
        """How long a record may wait in memory for the next batch; 0: none waits (`hold`)."""
        self._held: list[bytes | memoryview] = []
        """Headers and frames of the records held, in order."""
        self._held_bytes = 0
        self._held_since = 0.0
        """`time.monotonic()` when the oldest record held was written."""
        self._refused = False
        """The disk refused the last write: records are written one by one until it takes one again, so
        the caller learns at once whether the outage is over."""
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.paths: list[str] = []
        """Files written so far, in order; the last is being written."""
        self.start_error: OSError | None = None
        """The disk refused the first file's header (ENOSPC, EIO): the file exists, empty, and the
        first `write()` writes the header before its record. The sink reports it as a paused
        recording instead of failing to start; a file that cannot be created raises here."""
        try:
            self._open_next()
        except OSError as error:
            if not self.paths:
                raise
            self.start_error = error
        self._flusher = threading.Thread(target=self._sync_periodically, name="recording-sync", daemon=True)
        self._flusher.start()

    def _open_next(self) -> None:
        path = rotated_path(self._base, len(self.paths))
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.paths.append(path)
        self._size = 0
        self._unsynced = True
        self._write_all((_FILE_HEADER,), len(_FILE_HEADER))
        self._size = len(_FILE_HEADER)

    def _write_all(self, parts: tuple[bytes | memoryview, ...] | list[bytes | memoryview], total: int) -> None:
        """Writes whole records (`total` bytes) or raises: a write the disk refuses (ENOSPC, EIO) cuts
        the file back to its last whole record first, so a full disk loses records, never the file's
        shape, and the writer takes records again when space returns."""
        try:
            written = os.writev(self._fd, parts)
            if written < total:  # a short write: rare for regular files, but legal
                rest = b"".join(bytes(part) for part in parts)[written:]
                while rest:
                    rest = rest[os.write(self._fd, rest) :]
        except OSError:
            self._refused = True
            with contextlib.suppress(OSError):  # a file that cannot even be cut keeps its torn tail
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)  # the next record goes there, not after a hole
            raise
        self._refused = False

    def write(self, frame: bytes | memoryview, *, received_at: float, step: int = -1) -> None:
        """Append one frame as it was received; ``step`` is -1 when unknown. Raises OSError when the
        disk refuses it, or the records held with it (which are then lost, whole)."""
        if type(frame) is not bytes:
            frame = bytes(frame) if self._hold_s else memoryview(frame).cast("B")  # a held one must not change
        size = len(frame)
        if size > _MAX_FRAME:
            raise ValueError(f"frame of {size} bytes is too large for a record (max {_MAX_FRAME})")
        header = pack_record_header(size, received_at, step, zlib.crc32(frame))
        record_size = RECORD_HEADER_SIZE + size
        with self._lock:
            if self._closed.is_set():
                raise ValueError(f"write() on a closed RecordingWriter ({self._base})")
            if (
                self._rotate_bytes is not None
                and self._size + self._held_bytes > len(_FILE_HEADER)  # never rotate away from an empty file
                and self._size + self._held_bytes + record_size > self._rotate_bytes
            ):
                if self._held:
                    self._write_held()  # they belong to the current file
                previous = self._fd
                try:
                    self._open_next()  # before closing the current file: a refused one leaves it in use
                finally:
                    if self._fd != previous:
                        self._close(previous)
            if self._hold_s and self._size and not self._refused:
                self._hold(header, frame, record_size)
            elif self._size:
                self._write_all((header, frame), record_size)
                self._size += record_size
                self._unsynced = True
            else:  # the file header's write failed: it goes first
                self._write_all((_FILE_HEADER, header, frame), len(_FILE_HEADER) + record_size)
                self._size = len(_FILE_HEADER) + record_size
                self._unsynced = True

    def _hold(self, header: bytes, frame: bytes, record_size: int) -> None:
        held = self._held
        if not held:
            self._held_since = time.monotonic()
        held.append(header)
        held.append(frame)
        self._held_bytes += record_size
        if (
            self._held_bytes >= HOLD_BYTES
            or len(held) >= 2 * HOLD_RECORDS
            or time.monotonic() - self._held_since >= self._hold_s
        ):
            self._write_held()

    def _write_held(self) -> None:
        """One `writev` for every record held (lock held); refused, they are dropped, whole."""
        parts, total = self._held, self._held_bytes
        self._held, self._held_bytes = [], 0
        self._write_all(parts, total)
        self._size += total
        self._unsynced = True

    def hold(self, seconds: float) -> None:
        """From now on, let each record wait up to `seconds` in memory for a batch (0: none waits)."""
        if not seconds >= 0:
            raise ValueError(f"a hold must be >= 0 seconds, got {seconds!r}")
        with self._lock:
            if self._held:
                self._write_held()
            self._hold_s = seconds

    def flush(self) -> None:
        """Hand the records held to the operating system now; raises OSError when the disk refuses
        them (they are then lost, whole). Nothing to do for a writer that holds nothing."""
        with self._lock:
            if self._held:
                self._write_held()

    @staticmethod
    def _close(fd: int) -> None:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _sync_periodically(self) -> None:
        while not self._closed.wait(self._flush_interval_s):
            with self._lock:
                if not self._unsynced or self._closed.is_set():
                    continue
                fd = os.dup(self._fd)
                self._unsynced = False
            try:
                os.fsync(fd)
            except OSError:  # EIO: the next sync tries again; write() reports a disk that refuses
                self._unsynced = True
            finally:
                os.close(fd)

    def close(self) -> None:
        """Write what is held, sync and close; idempotent. Raises OSError when the disk refuses the
        last records or the sync; the file is closed all the same."""
        try:
            with self._lock:
                if self._closed.is_set():
                    return
                self._closed.set()
                try:
                    if self._held:
                        self._write_held()
                finally:
                    self._close(self._fd)
        finally:
            self._flusher.join()  # outside the lock, which the sync thread may be waiting for

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
