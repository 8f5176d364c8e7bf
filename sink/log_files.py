"""The sink's output files, their flush policy and their size-based rotation.

`strategic_log.txt` is for people (the seed's tree format); `findings.jsonl`, `metrics.jsonl`
and `events.jsonl` are for programs. Every file is text: control characters from the data
(byte-level tokens, sample ids) are escaped on the way in (`sink.printable`; the JSON files
are ASCII or escape them in `Finding.to_json`), so `grep` and a terminal read them as text. Writes are buffered and flushed at most FLUSH_INTERVAL_S
apart, on writes and on the live sink's idle ticks, so a sink killed mid-run loses about a
second of output, while a burst of thousands of messages a second does not become thousands
of syscalls.

Rotation (`rotate_bytes`): a write that would take a file past the limit first starts a new
file, named like the recording's set: `NAME`, then `NAME.1`, `NAME.2`, ... in writing order, so
`cat NAME NAME.1 NAME.2` is the whole log. Rotation happens between writes, so a JSONL line
or a log entry is never split across files.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from stratlog.protocol.recording import rotated_path
from stratlog.sink.findings import Finding
from stratlog.sink.printable import printable

FLUSH_INTERVAL_S = 1.0
FLUSH_BYTES = 64 * 1024
"""Pending text that is flushed before FLUSH_INTERVAL_S is up: a fast replay stays bounded in memory."""
MAX_PENDING_BYTES = 4 * 1024 * 1024
"""Text a paused file (`RotatingTextFile`) keeps for when the disk takes writes again."""
_SORTED_JSON = json.encoder.c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii,
                                           None, ": ", ", ", True, False, True)
"""The C encoder `json.dumps(record, sort_keys=True)` makes on every call (with its wrappers,
~1.4 us of a metrics line's ~4), made once: the same bytes for any record (ours hold no cycles,
so it keeps no markers to find them)."""


class RotatingTextFile:
    """An append-only UTF-8 text file that moves on to NAME.1, NAME.2, ... past `rotate_bytes`.

    Text is kept as whole lines (or log entries) until `flush`, which writes them with plain
    `os.write` calls and, when one fails (a full disk, EIO), cuts the file back to its last whole
    line and keeps the unwritten text for the next flush: a full disk pauses the file instead of
    leaving a torn JSONL line, and writing resumes when space returns. While paused, the oldest
    pending text past MAX_PENDING_BYTES is dropped (and counted in `lost_bytes`) so a long outage
    cannot fill the memory, and the newest text (the sink's error event) is kept."""

    def __init__(self, path: Path, rotate_bytes: int | None = None):
        if rotate_bytes is not None and rotate_bytes < 1:
            raise ValueError(f"rotate_bytes must be a positive byte count or None, got {rotate_bytes!r}")
        self.path = path
        self.rotate_bytes = rotate_bytes
        self._index = 0
        self._pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.lost_bytes = 0
        """Text dropped while the disk refused it."""
        self.paused = False
        """The last flush failed: text waits in memory (MAX_PENDING_BYTES at most) for the next."""
        self._open()

    def _open(self) -> None:
        self._fd = os.open(rotated_path(str(self.path), self._index), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._pending.append(data)
        self.pending_bytes += len(data)
        while self.paused and self.pending_bytes > MAX_PENDING_BYTES and len(self._pending) > 1:
            dropped = len(self._pending.popleft())
            self.pending_bytes -= dropped
            self.lost_bytes += dropped

    def flush(self) -> None:
        """Writes the pending text, rotating between pieces; raises the OSError of a failed
        write with the file cut back to its last whole piece and the unwritten text still pending."""
        while self._pending:
            chunk, size = [], 0
            for data in self._pending:
                if self.rotate_bytes is not None and self._size + size > 0 and self._size + size + len(data) > self.rotate_bytes:
                    break
                chunk.append(data)
                size += len(data)
            if not chunk:
                self._rotate()
                continue
            self._write_whole(b"".join(chunk))
            for _ in chunk:
                self._pending.popleft()
            self.pending_bytes -= size
        self.paused = False

    def _rotate(self) -> None:
        """Opens the next file before closing this one: a disk that refuses the new file (no
        inodes left) leaves this one open and the writer paused, not writing to a closed descriptor."""
        previous = self._fd
        try:
            self._index += 1
            self._open()
        except OSError:
            self._index -= 1
            self.paused = True
            raise
        os.close(previous)

    def _write_whole(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            self.paused = True
            with contextlib.suppress(OSError):  # a file that cannot even be cut keeps its torn tail
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def close(self) -> None:
        """Flushes and closes; the OSError of a refused flush is raised with the file closed."""
        try:
            self.flush()
        finally:
            os.close(self._fd)


class LogDirError(Exception):
    """The log folder cannot be created or written (read-only, a file in the way): the commands
    say so in one line and exit, where a traceback would hide the cause."""


def make_log_dir(log_dir: Path) -> Path:
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LogDirError(f"cannot write logs in {log_dir}: {error.strerror or error}") from error
    return log_dir


class LogFiles:
    def __init__(self, log_dir: Path, *, rotate_bytes: int | None = None,
                 on_write_error: Callable[[str, OSError | None], None] | None = None):
        """`on_write_error(name, error)`: a file's writing paused (error) or resumed (None); the
        pipeline makes it one error event and a visible state instead of a dead sink."""
        self.on_write_error = on_write_error
        self.log_dir = make_log_dir(Path(log_dir))
        try:
            self.human, self.findings, self.metrics, self.events = (
                RotatingTextFile(self.log_dir / name, rotate_bytes)
                for name in ("strategic_log.txt", "findings.jsonl", "metrics.jsonl", "events.jsonl")
            )
        except OSError as error:
            raise LogDirError(f"cannot write logs in {self.log_dir}: {error.strerror or error}") from error
        self._handles = (self.human, self.findings, self.metrics, self.events)
        self._flush_due_at = time.monotonic() + FLUSH_INTERVAL_S

    def write_human(self, text: str) -> None:
        self.human.write(printable(text))

    def write_finding(self, finding: Finding) -> None:
        self.findings.write(finding.to_json() + "\n")

    def write_metrics(self, record: dict) -> None:
        self.metrics.write("".join(_SORTED_JSON(record, 0)) + "\n")

    def write_event(self, record: dict) -> None:
        self.events.write("".join(_SORTED_JSON(record, 0)) + "\n")

    def flush_if_due(self) -> None:
        """Called after each handled frame and on idle ticks: flush once a second at most, or
        sooner for a file holding FLUSH_BYTES (a paused one waits for the second)."""
        now = time.monotonic()
        # no file holds FLUSH_BYTES while all of them together hold less: on nearly every call
        # that sum settles it, without a look at each file
        if now >= self._flush_due_at or (
                self.human.pending_bytes + self.findings.pending_bytes + self.metrics.pending_bytes
                + self.events.pending_bytes >= FLUSH_BYTES and self._holds_flush_bytes()):
            self.flush()
            self._flush_due_at = now + FLUSH_INTERVAL_S

    def _holds_flush_bytes(self) -> bool:
        for handle in self._handles:
            if handle.pending_bytes >= FLUSH_BYTES and not handle.paused:
                return True
        return False

    def flush(self) -> None:
        """Flushes every file; a file the disk refuses (ENOSPC, EIO) is paused, not fatal."""
        for handle in self._handles:
            was_paused = handle.paused
            try:
                handle.flush()
            except OSError as error:
                if not was_paused and self.on_write_error is not None:
                    self.on_write_error(handle.path.name, error)
            else:
                if was_paused and self.on_write_error is not None:
                    self.on_write_error(handle.path.name, None)

    def close(self) -> None:
        self.flush()
        for handle in self._handles:
            with contextlib.suppress(OSError):  # refused again: `flush` has reported it, the rest is lost
                handle.close()
