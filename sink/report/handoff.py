"""One exporter's thread: a bounded queue between the sink and a writer that may be slow or dead.

The sink's thread only ever appends a record to the queue without waiting (`offer`); a full
queue drops the record and counts it. The writer runs on its own daemon thread, which takes what
has queued and, when there is nothing, looks again POLL_S later: the sink never wakes it, because
waking a thread for each record (queue.Queue's notify) cost the sink more than its own work on a
metrics message. A W&B service that stops answering blocks that thread alone: the queue fills,
further records are
counted as dropped, and the sink's analysis, logs and recording go on. A writer that raises is
counted too and goes on with the next record. Closing waits a bounded time for the queue to
drain; a writer still blocked then is abandoned, and what it holds is counted as unwritten.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from stratlog.sink.report.records import Record

QUEUE_RECORDS = 10_000
"""Records waiting for one writer at most (minutes of a busy run's metrics)."""
CLOSE_WAIT_S = 10.0
"""How long closing waits for a writer to drain its queue and finish its runs."""
POLL_S = 0.05
"""How long an idle writer thread sleeps before it looks at its queue again."""


class Writer(Protocol):
    """One export target (TensorBoard, W&B); called on the hand-off's thread only."""

    name: str

    def write(self, record: Record) -> None: ...

    def close(self) -> None: ...

    def abandon(self) -> None:
        """Closing gave up on this writer, blocked on its target: free what would keep the sink's
        process from exiting (called on the sink's thread while the writer's may still be blocked)."""


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
        self._queue: deque = deque()
        self._max_records = max_records
        self._closing = threading.Event()
        self._dropped = 0
        self._errors = 0
        self._written = 0
        self._last_error = ""
        self._thread = threading.Thread(target=self._work, name=f"report-{writer.name}", daemon=True)
        self._thread.start()

    def offer(self, record: Record) -> None:
        """Never waits: a full queue drops `record` and counts it (one producer: the sink's thread)."""
        if len(self._queue) >= self._max_records:
            self._dropped += 1
        else:
            self._queue.append(record)

    def load(self) -> HandOffLoad:
        return HandOffLoad(self.writer.name, len(self._queue), self._dropped, self._errors, self._last_error,
                           self._written)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> bool:
        """Asks the writer to finish after the queued records; True when it did within `wait_s`.
        A writer still blocked then is abandoned (`Writer.abandon`) and left behind (a daemon thread)."""
        self._closing.set()
        self._thread.join(timeout=wait_s)
        if self._thread.is_alive():
            self.writer.abandon()
            return False
        return True

    def _work(self) -> None:
        while True:
            try:
                record = self._queue.popleft()
            except IndexError:
                if self._closing.is_set():
                    break
                self._closing.wait(POLL_S)  # wakes at once when closing
                continue
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
