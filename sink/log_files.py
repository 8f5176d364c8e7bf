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

import json
import time
from pathlib import Path

from stratlog.protocol.recording import rotated_path
from stratlog.sink.findings import Finding
from stratlog.sink.printable import printable

FLUSH_INTERVAL_S = 1.0


class RotatingTextFile:
    """An append-only UTF-8 text file that moves on to NAME.1, NAME.2, ... past `rotate_bytes`."""

    def __init__(self, path: Path, rotate_bytes: int | None = None):
        if rotate_bytes is not None and rotate_bytes < 1:
            raise ValueError(f"rotate_bytes must be a positive byte count or None, got {rotate_bytes!r}")
        self.path = path
        self.rotate_bytes = rotate_bytes
        self._index = 0
        self._open()

    def _open(self) -> None:
        self._handle = open(rotated_path(str(self.path), self._index), "a", encoding="utf-8")
        self._size = self._handle.tell()

    def write(self, text: str) -> None:
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        if self.rotate_bytes is not None and self._size > 0 and self._size + size > self.rotate_bytes:
            self._handle.close()
            self._index += 1
            self._open()
        self._handle.write(text)
        self._size += size

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class LogFiles:
    def __init__(self, log_dir: Path, *, rotate_bytes: int | None = None):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.human, self.findings, self.metrics, self.events = (
            RotatingTextFile(self.log_dir / name, rotate_bytes)
            for name in ("strategic_log.txt", "findings.jsonl", "metrics.jsonl", "events.jsonl")
        )
        self._last_flush = time.monotonic()

    def write_human(self, text: str) -> None:
        self.human.write(printable(text))

    def write_finding(self, finding: Finding) -> None:
        self.findings.write(finding.to_json() + "\n")

    def write_metrics(self, record: dict) -> None:
        self.metrics.write(json.dumps(record, sort_keys=True) + "\n")

    def write_event(self, record: dict) -> None:
        self.events.write(json.dumps(record, sort_keys=True) + "\n")

    def flush_if_due(self) -> None:
        """Called after each handled frame and on idle ticks: flush once a second at most."""
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        for handle in (self.human, self.findings, self.metrics, self.events):
            handle.flush()

    def close(self) -> None:
        for handle in (self.human, self.findings, self.metrics, self.events):
            handle.close()
