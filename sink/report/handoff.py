"""One exporter's thread: a bounded queue between the sink and a writer that may be slow or dead.

The sink's thread only ever puts a record into the queue without waiting (`offer`); a full
queue drops the record and counts it. The writer runs on its own daemon thread, so a W&B
service that stops answering blocks that thread alone: the queue fills, further records are
counted as dropped, and the sink's analysis, logs and recording go on. A writer that raises is
counted too and goes on with the next record. Closing waits a bounded time for the queue to
drain; what a blocked writer still holds then is counted as unwritten, never waited for.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from stratlog.sink.report.records import Record

QUEUE_RECORDS = 10_000
"""Records waiting for one writer at most (minutes of a busy run's metrics)."""
CLOSE_WAIT_S = 10.0
"""How long closing waits for a writer to drain its queue and finish its runs."""
_CLOSE = object()


class Writer(Protocol):
    """One export target (TensorBoard, W&B); called on the hand-off's thread only."""

    name: str

    def write(self, record: Record) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class HandOffLoad:
    """Where one exporter stands, for events.jsonl and findings."""

    target: str
    backlog: int
    """Records waiting in the queue."""
    dropped: int
    """Records dropped because the queue was full, since the start."""
    errors: int
    """Records the writer raised on, since the start."""
    last_error: str
    written: int


class HandOff:
    def __init__(self, writer: Writer, *, max_records: int = QUEUE_RECORDS):
        self.writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=max_records)
        self._dropped = 0
        self._errors = 0
        self._written = 0
        self._last_error = ""
        self._thread = threading.Thread(target=self._work, name=f"report-{writer.name}", daemon=True)
        self._thread.start()

    def offer(self, record: Record) -> None:
        """Never waits: a full queue drops `record` and counts it."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped += 1

    def load(self) -> HandOffLoad:
        return HandOffLoad(self.writer.name, self._queue.qsize(), self._dropped, self._errors, self._last_error,
                           self._written)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> bool:
        """Asks the writer to finish after the queued records; True when it did within `wait_s`."""
        deadline = time.monotonic() + wait_s
        while True:  # the queue may be full of records a blocked writer will never take
            try:
                self._queue.put(_CLOSE, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    return False
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    def _work(self) -> None:
        while (record := self._queue.get()) is not _CLOSE:
            self._call(self.writer.write, record)
        self._call(self.writer.close)

    def _call(self, work, *args) -> None:
        try:
            work(*args)
        except Exception as error:  # noqa: BLE001 - by design: an export failure never reaches the sink
            self._errors += 1
            self._last_error = f"{type(error).__name__}: {str(error)[:200]}"
        else:
            if args:
                self._written += 1
