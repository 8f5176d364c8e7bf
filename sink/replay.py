"""Replay: a recording goes back through the very same `SinkPipeline` as the live stream.

`ReplayPlayer` feeds the records in order and paces them by their recorded receive times:
`speed` scales the recorded gaps (2.0 = twice as fast; None = as fast as possible). A viewer
may pause, resume, change the speed or seek forward while it plays; every record still goes
through the pipeline in order, because the analyses judge trends from the first capture on
(a seek plays the skipped records at full speed rather than leaving them out). Seeking back
would need a fresh pipeline from the start; a viewer shows earlier steps from its own history
instead. `replay_recording` is the headless path: the player at one fixed speed. The replay's
log files start with a marker line and are otherwise what the live run wrote.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from stratlog.protocol import RecordingReader
from stratlog.sink import snapshot_kinds
from stratlog.sink.pipeline import SinkPipeline

SPEEDS: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, None)
"""The speed ladder that faster() / slower() climb; None is as fast as possible."""
WAKE_S = 0.1
"""Longest wait without looking at the stop event, so closing a viewer never hangs."""


def replay_marker(recording: Path) -> str:
    return f"=== Replay of {recording} ===\n\n"


def describe_speed(speed: float | None) -> str:
    return "max speed" if speed is None else f"{speed:g}x"


@dataclass(frozen=True)
class PlayerStatus:
    """Where a replay stands, for a viewer's header."""

    speed: float | None
    paused: bool
    step: int
    """Step of the latest record fed to the pipeline."""
    finished: bool
    seeking_to: int | None

    def describe(self) -> str:
        if self.finished:
            return "replay finished"
        if self.seeking_to is not None:
            return f"seeking to step {self.seeking_to}"
        return f"{'paused' if self.paused else 'playing'} at {describe_speed(self.speed)}"


class ReplayPlayer:
    """Plays one recording into one pipeline; its controls are safe to call from any thread."""

    def __init__(self, recording: Path, pipeline: SinkPipeline, *, speed: float | None = None, paused: bool = False,
                 pause_after_first_capture: bool = False):
        """`pause_after_first_capture`: play at full speed up to the first capture step (every
        record of that step), then pause: a viewer starts on something to look at, not on an
        empty screen nor on a replay already over."""
        self.recording = recording
        self._pause_after_capture_step: int | None = None
        """The first capture's step once seen (while the pause is still to come)."""
        self._pause_after_first_capture = pause_after_first_capture
        self.pipeline = pipeline
        self._changed = threading.Condition()
        self._speed = speed
        self._paused = paused
        self._seek_to: int | None = None
        self._finished = False
        self._step = 0
        self._position = 0.0
        """Recorded receive time of the latest record fed: the replay's clock."""
        self._anchor: tuple[float, float] | None = None
        """(recorded time, monotonic time) that pacing counts from; reset by every control."""
        self.damage: list = []
        """What the latest `run` skipped so far (`protocol.Damage`), each also reported to the
        pipeline as met; the dashboard's command prints it at the end as the headless replay does."""

    def run(self, stop: threading.Event | None = None) -> RecordingReader:
        """Feeds every intact record to the pipeline (until `stop`); returns the reader, whose
        `.damage` says what was skipped."""
        stop = stop or threading.Event()
        self.damage = []
        self.pipeline.files.write_human(replay_marker(self.recording))
        reader = RecordingReader(self.recording)
        try:
            for record in reader:
                self._report_damage(reader)
                self._pause_past_first_capture(record.step)
                if not self._wait_until_due(record.received_at, record.step, stop):
                    break
                message = self.pipeline.handle(record.frame, record.received_at)
                if (self._pause_after_first_capture and self._pause_after_capture_step is None
                        and message is not None and snapshot_kinds.kind_of_snapshot(message) is not None):
                    self._pause_after_capture_step = record.step
                with self._changed:
                    self._step, self._position = max(self._step, record.step), record.received_at
            self._report_damage(reader)
        finally:
            self.damage = reader.damage
            with self._changed:
                self._finished = True
        return reader

    def _report_damage(self, reader: RecordingReader) -> None:
        """Byte ranges the reader has skipped since the last look go to the pipeline as they are
        met, so the dashboard shows them while it plays (and the logs and summary keep them)."""
        for damage in reader.damage[len(self.damage):]:
            self.pipeline.recording_damaged(damage)
        self.damage = list(reader.damage)

    def _pause_past_first_capture(self, step: int) -> None:
        """Pauses before the first record past the first capture step (once)."""
        if self._pause_after_capture_step is not None and step > self._pause_after_capture_step:
            self._pause_after_first_capture, self._pause_after_capture_step = False, None
            self._control(paused=True)

    def _wait_until_due(self, recorded_at: float, step: int, stop: threading.Event) -> bool:
        """Blocks until the record is due (pause, speed and seeks considered); False on stop."""
        with self._changed:
            while not stop.is_set():
                if self._seek_to is not None:
                    if step <= self._seek_to:
                        return True
                    self._seek_to, self._anchor = None, None
                if self._paused:
                    self._changed.wait(WAKE_S)
                    continue
                if self._speed is None or self._pause_after_first_capture:
                    return True
                if self._anchor is None:
                    self._anchor = (self._position or recorded_at, time.monotonic())
                delay = self._anchor[1] + (recorded_at - self._anchor[0]) / self._speed - time.monotonic()
                if delay <= 0:
                    return True
                self._changed.wait(min(delay, WAKE_S))
            return False

    def _control(self, **changes) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(self, f"_{name}", value)
            self._anchor = None  # pacing restarts from the current position
            self._changed.notify_all()

    def toggle_pause(self) -> None:
        with self._changed:  # reentrant: read and change in one step
            self._control(paused=not self._paused)

    def faster(self) -> None:
        with self._changed:  # reentrant: read and change in one step
            self._control(speed=_next_speed(self._speed, up=True))

    def slower(self) -> None:
        with self._changed:  # reentrant: read and change in one step
            self._control(speed=_next_speed(self._speed, up=False))

    def seek(self, step: int) -> bool:
        """Plays on at full speed through `step`; False (and nothing done) when the replay is
        already there or past it: analyses cannot run backwards."""
        with self._changed:
            if self._finished or step <= self._step:
                return False
        self._control(seek_to=step)
        return True

    def status(self) -> PlayerStatus:
        with self._changed:
            return PlayerStatus(self._speed, self._paused, self._step, self._finished, self._seek_to)

    def clock(self) -> float:
        """The replay's 'now': the recorded receive time of the latest record fed."""
        with self._changed:
            return self._position


def _next_speed(speed: float | None, *, up: bool) -> float | None:
    """The next rung of SPEEDS above (or below) `speed`, which need not be on the ladder."""
    finite = [rung for rung in SPEEDS if rung is not None]
    if up:
        return None if speed is None else next((rung for rung in finite if rung > speed), None)
    if speed is None:
        return finite[-1]
    return next((rung for rung in reversed(finite) if rung < speed), finite[0])


def replay_recording(recording: Path, pipeline: SinkPipeline, *, speed: float | None = None,
                     stop: threading.Event | None = None) -> RecordingReader:
    """The headless replay: every intact record at one fixed speed; returns the reader."""
    return ReplayPlayer(recording, pipeline, speed=speed).run(stop)
