"""The hand-off between the sink and one exporter: never waits, counts what it drops or fails."""

from __future__ import annotations

import threading

from stratlog.sink.report.handoff import HandOff
from stratlog.sink.report.records import Scalars


class Writer:
    name = "writer"
    abandoned = False

    def close(self) -> None:
        pass

    def abandon(self) -> None:
        self.abandoned = True


class BlockedWriter(Writer):
    """A writer whose target stopped answering: every write waits until released."""

    name = "blocked"

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.written: list = []

    def write(self, record) -> None:
        self.entered.set()
        self.release.wait()
        self.written.append(record)


class FailingWriter(Writer):
    name = "failing"

    def __init__(self):
        self.calls = 0

    def write(self, record) -> None:
        self.calls += 1
        raise ConnectionResetError("the service is gone")


def record(step: int) -> Scalars:
    return Scalars("run", step, 0.0, {"metrics/loss/rank0": float(step)})


def test_a_blocked_writer_costs_dropped_records_not_a_wait():
    writer = BlockedWriter()
    handoff = HandOff(writer, max_records=5)
    handoff.offer(record(0))
    assert writer.entered.wait(10)  # the writer holds the first record and waits
    for step in range(1, 100):
        handoff.offer(record(step))  # returns at once although the writer holds the first record
    load = handoff.load()
    assert load.backlog == 5 and load.dropped == 100 - 5 - 1 and load.written == 0
    assert not handoff.close(wait_s=0.3)  # closing gives up on the blocked writer
    assert writer.abandoned
    writer.release.set()


def test_a_released_writer_gets_every_queued_record_in_order():
    writer = BlockedWriter()
    handoff = HandOff(writer, max_records=50)
    for step in range(20):
        handoff.offer(record(step))
    writer.release.set()
    assert handoff.close(wait_s=10)
    assert [r.step for r in writer.written] == list(range(20))
    assert handoff.load().written == 20 and handoff.load().dropped == 0


def test_a_failing_writer_is_counted_and_goes_on():
    writer = FailingWriter()
    handoff = HandOff(writer)
    for step in range(3):
        handoff.offer(record(step))
    assert handoff.close(wait_s=10)
    load = handoff.load()
    assert writer.calls == 3 and load.errors == 3 and load.last_error.startswith("ConnectionResetError")
