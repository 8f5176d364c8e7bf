"""The live sink loop: receive messages until told to stop (or, optionally, until the run ends).

It runs in the main thread when headless, or in a background thread beside the dashboard;
`stop()` is safe to call from any thread or a signal handler. Each turn the loop moves everything
that has arrived into the backlog (`sink.backlog`), stamped with its arrival time, then handles
the backlog for RECEIVE_EVERY_S (5 ms) at most: the pipeline may run behind, but it judges
stalls and log entries on when messages arrived, and past the backlog's byte limit messages are
dropped and counted rather than queued without end. The per-message work is the same whatever
the number of ranks. When nothing is waiting for 100 ms the loop ticks the pipeline, so stalls
are found and files flushed while the ranks are quiet. While it works through a backlog, the
recording's records are written in batches, each held at most RECORD_HOLD_S
(`RecordingWriter.hold`); whenever it has caught up, before it waits, it writes what it holds,
so a sink killed (SIGKILL) while keeping up loses no record it handled, and one killed while
behind at most RECORD_HOLD_S of them. Every LOAD_REPORT_S the sink writes its load (lag,
backlog, drops) to events.jsonl, and a finding when it dropped messages or caught up again.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

from stratlog.protocol import MalformedFrame, RunEnd
from stratlog.sink.analysis import stream
from stratlog.sink.backlog import DEFAULT_BACKLOG_BYTES, FrameBacklog, SinkLoad
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver, ReceivedMessage

IDLE_WAIT_MS = 100
"""How long the loop waits for a message before it ticks the pipeline."""
DRAIN_LIMIT = 10_000
"""Messages moved into the backlog between two turns of handling at most, so handling never starves."""
RECEIVE_EVERY_S = 0.005
"""While the loop works through its backlog, it goes back to the socket after this long (and after
the message it is handling): the arrival time it stamps on a message is at most this late, plus
one message's handling, where the ranks' stalls and the log entries' grace are seconds."""
LOAD_REPORT_S = 10.0
"""Wall-clock seconds between two load records in events.jsonl (written only when messages came)."""
STOPPED_AFTER_S = 1.0
"""A turn of the loop that took longer than this while nothing was handled means the sink itself
was stopped (SIGSTOP, a suspended VM): its next idle tick waits for what arrived meanwhile."""
RECORD_HOLD_S = 0.05
"""While the loop works through a backlog, records wait up to this long to be written to the recording
together (`RecordingWriter.hold`); the loop hands them over whenever it has caught up, before it waits."""
YOUNG_COLLECTION_EVERY = 10_000
"""Allocations between two collections of the youngest generation (Python's default: 700): at the
default, 7 % of a live sink's samples were in the collector (py-spy, 512 ranks of bench_scale.py);
cycles are still collected, less often."""
CLOSE_GRACE_S = 5.0
"""How long a closing sink keeps receiving for run ends still on their way (a rank stopped by
Ctrl-C or SIGTERM sends its run end within its close timeout, 2 s, after the signal)."""


class SinkService:
    def __init__(self, receiver: FrameReceiver, pipeline: SinkPipeline, *, backlog_bytes: int = DEFAULT_BACKLOG_BYTES,
                 close_grace_s: float = CLOSE_GRACE_S):
        """`close_grace_s`: how long `close` waits for run ends still on their way (0: not at all)."""
        self.receiver = receiver
        self.close_grace_s = close_grace_s
        self.pipeline = pipeline
        self.backlog = FrameBacklog(backlog_bytes)
        self._stop = threading.Event()
        self._lag_s = 0.0
        self._period = _LoadPeriod(time.monotonic())
        self._overloaded = False
        self._last_turn = time.monotonic()
        if pipeline.recorder is not None:
            pipeline.recorder.hold(RECORD_HOLD_S)

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, until_run_end: bool = False, should_stop: Callable[[], bool] | None = None) -> None:
        """Serve until stop(); with `until_run_end`, also stop once every rank sent its run end;
        `should_stop` is asked every turn (at least every 100 ms)."""
        while not self._stop.is_set():
            if not self.backlog:  # caught up: nothing recorded waits in memory while the loop waits
                self.pipeline.flush_recording()
            self._receive_waiting(IDLE_WAIT_MS if not self.backlog else 0)
            if refusals := self.receiver.take_refusals():
                self.pipeline.refuse_connections(refusals, time.time())
            quiet = not self.backlog
            if quiet:
                self._lag_s = 0.0
                if not self._was_stopped():
                    self.pipeline.tick()
                ended = False
            else:
                ended = self._handle_for(RECEIVE_EVERY_S)
            self.pipeline.state.set_load(self.load())
            self._report_load_if_due()
            self._last_turn = time.monotonic()
            # `finished` looks at every rank: only when it can have changed (a run end, or quiet)
            if until_run_end and (quiet or ended) and self.pipeline.state.finished:
                break
            if should_stop is not None and should_stop():
                break

    def _handle_for(self, seconds: float) -> bool:
        """Handles the backlog's messages, oldest first, for `seconds` at most (one at least) or up to
        a run end; True when it stopped at a run end. One turn of the loop for many messages: its
        own costs (the socket's empty read, the load the dashboard shows) are paid once a turn."""
        until = time.monotonic() + seconds
        handled, lag, max_lag, ended = 0, self._lag_s, 0.0, False
        while (received := self.backlog.take()) is not None:
            message = self._handle(received)
            lag = time.time() - received.received_at
            handled += 1
            if lag > max_lag:
                max_lag = lag
            if isinstance(message, RunEnd):
                ended = True
                break
            if time.monotonic() >= until:
                break
        self._lag_s = lag  # read once the turn is over (`load`), as the period's figures
        self._period.handled(handled, max_lag)
        return ended

    def _was_stopped(self) -> bool:
        """This turn's wait took far longer than IDLE_WAIT_MS: the process was stopped. An idle
        tick now would judge stalls on the wall clock before the backlog that waited in the
        sockets meanwhile is received (a race with ZeroMQ's I/O thread); the next turn receives it."""
        return time.monotonic() - self._last_turn > STOPPED_AFTER_S

    def load(self) -> SinkLoad:
        return SinkLoad(round(self._lag_s, 3), self.backlog.bytes, self.backlog.dropped_frames, self.backlog.dropped_bytes)

    def _receive_waiting(self, wait_ms: int) -> None:
        """Moves what has arrived (DRAIN_LIMIT messages at most) into the backlog, waiting up to
        `wait_ms` for the first message."""
        self.backlog.offer_all(self.receiver.receive_waiting(wait_ms, DRAIN_LIMIT))

    def _handle(self, received: ReceivedMessage):
        if received.parts > 1:
            self.pipeline.refuse(MalformedFrame(f"a multipart message of {received.parts} parts: one message is one "
                                                "frame (PROTOCOL.md §2); no part was read"),
                                 len(received.frame), received.received_at)
            return None
        return self.pipeline.handle(received.frame, received.received_at)

    def _report_load_if_due(self, *, closing: bool = False) -> None:
        now = time.monotonic()
        if not closing and now - self._period.start < LOAD_REPORT_S:
            return
        period, self._period = self._period, _LoadPeriod(now)
        dropped_frames = self.backlog.dropped_frames - period.dropped_frames_before
        dropped_bytes = self.backlog.dropped_bytes - period.dropped_bytes_before
        self._period.dropped_frames_before, self._period.dropped_bytes_before = (self.backlog.dropped_frames,
                                                                                 self.backlog.dropped_bytes)
        if not period.handled_count and not dropped_frames:
            return
        record = {
            "event": "sink_load", "time": round(time.time(), 3), "period_s": round(now - period.start, 3),
            "handled": period.handled_count, "lag_s": round(self._lag_s, 3), "max_lag_s": round(period.max_lag_s, 3),
            "backlog_bytes": self.backlog.bytes, "max_backlog_bytes": self.backlog.peak_bytes,
            "backlog_limit_bytes": self.backlog.limit_bytes, "dropped_frames": dropped_frames,
            "dropped_bytes": dropped_bytes, "dropped_frames_total": self.backlog.dropped_frames,
        }
        self.backlog.reset_peak()
        findings = []
        if dropped_frames:
            self._overloaded = True
            findings.append(stream.overload_finding(record))
        elif self._overloaded:
            self._overloaded = False
            findings.append(stream.caught_up_finding(record))
        self.pipeline.report_load(record, findings)

    def close(self) -> None:
        """Handles what has already arrived first (the backlog and the socket's queue): the logs
        and the recording keep it (at most the backlog's size; a few seconds of work). Then it goes
        on receiving until every rank has sent its run end (or stalled), for `close_grace_s` at
        most, so a run stopped together with its sink (Ctrl-C in the demo, docker stop) ends its
        logs with the ranks' own run ends. A Ctrl-C meanwhile ends the wait, not the closing."""
        deadline = time.monotonic() + self.close_grace_s
        try:
            while True:
                self.pipeline.flush_recording()  # nothing handled waits in memory while this waits
                self._receive_waiting(IDLE_WAIT_MS if time.monotonic() < deadline else 0)
                while (received := self.backlog.take()) is not None:
                    self._handle(received)
                    self._period.handled(1, time.time() - received.received_at)
                if time.monotonic() >= deadline or self.pipeline.state.all_settled:
                    break
                self.pipeline.tick()
        except KeyboardInterrupt:  # a second Ctrl-C: the files below are still closed whole
            pass
        self._report_load_if_due(closing=True)
        self.receiver.close()
        self.pipeline.close()


def collect_garbage_less_often() -> None:
    """For a process that is the sink (`stratlog sink`): what is alive when it starts serving
    (modules, the pipeline) lives as long as the sink, so it is frozen and no collection walks it
    again; young collections run every YOUNG_COLLECTION_EVERY allocations.
    Measured (bench_scale.py, 512 ranks, 15 s, two runs each): 0.87-0.90 -> 0.83 ms of sink CPU per
    rank-second, resident memory no higher."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)


class _LoadPeriod:
    """What happened since the last load record."""

    def __init__(self, start: float):
        self.start = start
        self.handled_count = 0
        self.max_lag_s = 0.0
        self.dropped_frames_before = 0
        self.dropped_bytes_before = 0

    def handled(self, count: int, max_lag_s: float) -> None:
        """`count` messages handled, the longest after `max_lag_s` in the backlog."""
        self.handled_count += count
        self.max_lag_s = max(self.max_lag_s, max_lag_s)
