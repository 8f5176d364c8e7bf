"""The sink's output files and their flush policy.

`strategic_log.txt` is for people (the seed's tree format); `metrics.jsonl` and
`events.jsonl` are for programs. Writes are buffered and flushed once a second at most, so
a sink killed mid-run loses about a second of output, while a burst of thousands of
messages a second does not turn into thousands of syscalls.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

FLUSH_INTERVAL_S = 1.0


class LogFiles:
    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.human = open(self.log_dir / "strategic_log.txt", "a", encoding="utf-8")
        self.metrics = open(self.log_dir / "metrics.jsonl", "a", encoding="utf-8")
        self.events = open(self.log_dir / "events.jsonl", "a", encoding="utf-8")
        self._last_flush = time.monotonic()

    def write_human(self, text: str) -> None:
        self.human.write(text)
        self._maybe_flush()

    def write_metrics(self, record: dict) -> None:
        self.metrics.write(json.dumps(record, sort_keys=True) + "\n")
        self._maybe_flush()

    def write_event(self, record: dict) -> None:
        self.events.write(json.dumps(record, sort_keys=True) + "\n")
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        for handle in (self.human, self.metrics, self.events):
            handle.flush()

    def close(self) -> None:
        for handle in (self.human, self.metrics, self.events):
            handle.close()
