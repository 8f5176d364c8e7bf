"""Replay: a recording goes back through the very same `SinkPipeline` as the live stream.

`speed` scales the recorded gaps between frames (2.0 = twice as fast); None replays as fast
as possible. The replay's log files start with a marker line and are otherwise what the live
run wrote.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from protocol import RecordingReader
from sink.pipeline import SinkPipeline


def replay_marker(recording: Path) -> str:
    return f"=== Replay of {recording} ===\n\n"


def replay_recording(recording: Path, pipeline: SinkPipeline, *, speed: float | None = None,
                     stop: threading.Event | None = None) -> RecordingReader:
    """Feeds every intact record to the pipeline; returns the reader (its `.damage` says what
    was skipped)."""
    pipeline.files.write_human(replay_marker(recording))
    reader = RecordingReader(recording)
    first_recorded = first_wall = None
    for record in reader:
        if stop is not None and stop.is_set():
            break
        if speed is not None:
            if first_recorded is None:
                first_recorded, first_wall = record.received_at, time.monotonic()
            due = first_wall + (record.received_at - first_recorded) / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        pipeline.handle(record.frame, record.received_at)
    return reader
