"""A live sink that runs behind: its backlog is bounded in bytes and what does not fit is dropped
and counted (events.jsonl, a finding, the state viewers read); its lag is measured; and log
entries are still whole, because they are judged on arrival times, not on when the slow sink got
to them. Real sockets, a pipeline slowed on purpose. Run: ./run-tests tests/sink/test_backlog.py"""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from stratlog.protocol import RecordingReader, RecordingWriter, encode
from stratlog.sink import log_entries
from stratlog.sink.backlog import FrameBacklog
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver, ReceivedMessage
from stratlog.sink.service import SinkService
from tests.processes import read_jsonl, wait_for
from tests.sink.test_pipeline import snapshots
from tests.sink.builders import metrics, run_start

HANDLING_S = 0.1
"""Each frame takes this long in the slowed pipeline."""
GRACE_S = 0.2
"""The entry grace for the test (ENTRY_GRACE_S, 2 s, scaled down with the handling time): with
three ranks interleaved a rank's next snapshot is handled 3 x 0.1 s after its previous one."""


def test_the_backlog_holds_at_most_its_bytes_and_counts_what_it_drops():
    backlog = FrameBacklog(limit_bytes=10)
    assert backlog.offer(ReceivedMessage(b"x" * 6, 1.0)) and backlog.offer(ReceivedMessage(b"y" * 4, 2.0))
    assert not backlog.offer(ReceivedMessage(b"z", 3.0))
    assert (backlog.bytes, backlog.dropped_frames, backlog.dropped_bytes, len(backlog)) == (10, 1, 1, 2)
    assert backlog.take().frame == b"x" * 6 and backlog.bytes == 4
    assert backlog.offer(ReceivedMessage(b"z", 3.0))


def test_offering_many_at_once_keeps_and_drops_what_offering_each_would():
    frames = [b"a" * 6, b"b" * 5, b"c" * 3, b"d", b"e" * 2]
    one_by_one, at_once = FrameBacklog(limit_bytes=10), FrameBacklog(limit_bytes=10)
    kept = [one_by_one.offer(ReceivedMessage(frame, 1.0)) for frame in frames]
    at_once.offer_all([ReceivedMessage(frame, 1.0) for frame in frames])
    assert kept == [True, False, True, True, False]
    for backlog in (one_by_one, at_once):
        assert (backlog.bytes, backlog.peak_bytes, backlog.dropped_frames, backlog.dropped_bytes) == (10, 10, 2, 7)
    assert [message.frame for message in iter(at_once.take, None)] == [b"a" * 6, b"c" * 3, b"d"]


def test_messages_offered_as_they_arrive_are_each_kept_or_dropped_before_the_next_is_read():
    """What keeps a flood of large frames from piling up in memory before the byte limit drops them."""
    backlog, settled_before_each = FrameBacklog(limit_bytes=10), []

    def arriving():
        for index, frame in enumerate([b"a" * 6, b"b" * 5, b"c" * 3]):
            settled_before_each.append(len(backlog) + backlog.dropped_frames)
            yield ReceivedMessage(frame, float(index))

    backlog.offer_all(arriving())
    assert settled_before_each == [0, 1, 2]
    assert (len(backlog), backlog.dropped_frames, backlog.bytes) == (2, 1, 9)


def test_what_has_arrived_is_received_whole_a_multipart_message_as_one_and_at_most_the_limit():
    receiver = FrameReceiver("tcp://127.0.0.1:0")
    sender = zmq.Context.instance().socket(zmq.PUSH)
    try:
        sender.connect(receiver.address)
        sender.send(b"first")
        sender.send_multipart([b"two", b"parts"])
        for index in range(3):
            sender.send(b"later %d" % index)
        before, received, deadline = time.time(), [], time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            batch = list(receiver.receive_waiting(100, 3))
            assert len(batch) <= 3
            received += batch
        assert [(message.frame, message.parts) for message in received] == [
            (b"first", 1), (b"twoparts", 2), (b"later 0", 1), (b"later 1", 1), (b"later 2", 1)]
        stamps = [message.received_at for message in received]
        assert before <= stamps[0] and stamps == sorted(stamps)
        assert list(receiver.receive_waiting(0, 10)) == []
    finally:
        sender.close(linger=0)
        receiver.close()


def slow_sink(log_dir, backlog_bytes: int) -> SinkService:
    service = SinkService(FrameReceiver("tcp://127.0.0.1:0"), SinkPipeline(log_dir), backlog_bytes=backlog_bytes,
                          close_grace_s=0)
    handle = service.pipeline.handle

    def slowly(frame, received_at):
        time.sleep(HANDLING_S)
        return handle(frame, received_at)

    service.pipeline.handle = slowly
    return service


@pytest.fixture
def sender():
    context = zmq.Context()
    socket = context.socket(zmq.PUSH)
    socket.setsockopt(zmq.LINGER, 0)
    yield socket
    socket.close()
    context.term()


def serve(service: SinkService):
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    return thread


def test_a_sink_running_behind_still_writes_each_entry_whole(tmp_path, sender, monkeypatch):
    monkeypatch.setattr(log_entries, "ENTRY_GRACE_S", GRACE_S)
    service = slow_sink(tmp_path, backlog_bytes=64 * 2**20)
    sender.connect(service.receiver.address)
    thread = serve(service)
    ranks = range(3)
    for rank in ranks:
        sender.send(encode(run_start(rank=rank, world_size=3)))
    by_rank = [snapshots(rank, 10, 1) for rank in ranks]
    for batch in zip(*by_rank):  # interleaved, as several ranks' captures arrive
        for snapshot in batch:
            snapshot.world_size = 3
            sender.send(encode(snapshot))
    lags = []
    wait_for(lambda: lags.append(service.pipeline.state.load and service.pipeline.state.load.lag_s)
             or service.pipeline.state.messages == 15, 30, what="every frame handled")
    assert max(lag for lag in lags if lag is not None) > 3 * HANDLING_S > GRACE_S  # it really ran behind
    wait_for(lambda: service.pipeline.state.load.lag_s == 0.0, 5, what="the lag back to 0 once idle")
    service.stop()
    thread.join(timeout=10)
    service.close()
    log = (tmp_path / "strategic_log.txt").read_text()
    assert log.count("Training Log - Step 10 ===") == 3  # one entry per rank, none split
    for rank in ranks:
        entry = log.split(f"Rank: {rank} of 3")[1].split("=== ")[0]
        assert all(title in entry for title in ("Input Sequence Analysis:", "Output Analysis:",
                                                 "Shared Attention / DualFFN Analysis:", "Zero-Shot Verification:"))


def test_past_its_backlog_the_sink_drops_counts_and_says_so(tmp_path, sender):
    frames = [encode(run_start(world_size=1))] + [encode(metrics(step, loss=1.0)) for step in range(1, 41)]
    service = slow_sink(tmp_path, backlog_bytes=3 * max(map(len, frames)))
    sender.connect(service.receiver.address)
    thread = serve(service)
    for frame in frames:
        sender.send(frame)
    wait_for(lambda: service.load().dropped_frames and not service.backlog, 30, what="drops, then an empty backlog")
    handled = service.pipeline.state.messages
    frames.append(encode(metrics(41, loss=1.0)))  # the rank goes on: its sequence shows the gap
    sender.send(frames[-1])
    wait_for(lambda: service.pipeline.state.messages > handled, 10, what="the frame after the drops")
    service.stop()
    thread.join(timeout=10)
    service.close()
    load = service.load()
    assert load.dropped_frames + service.pipeline.state.messages == len(frames)
    assert service.pipeline.state.load.dropped_frames == load.dropped_frames  # what the header shows
    (report,) = [event for event in read_jsonl(tmp_path / "events.jsonl") if event["event"] == "sink_load"]
    assert report["dropped_frames"] == report["dropped_frames_total"] == load.dropped_frames
    assert report["max_lag_s"] > 0 and report["handled"] == service.pipeline.state.messages
    assert report["max_backlog_bytes"] <= report["backlog_limit_bytes"]
    overload = [f for f in read_jsonl(tmp_path / "findings.jsonl") if f["check"] == "sink_overload"]
    assert [(f["severity"], f["value"]) for f in overload] == [("WARN", load.dropped_frames)]
    assert "sink_overload" in (tmp_path / "strategic_log.txt").read_text()
    gap = [f for f in read_jsonl(tmp_path / "findings.jsonl") if f["check"] == "sequence_gap"]
    assert gap and "dropped them itself while overloaded" in gap[0]["reason"]


def test_a_sink_that_catches_up_has_written_every_record_it_handled(tmp_path, sender):
    """Working through a burst, the live sink writes its recording in batches; once it has caught
    up, before it waits, every frame it handled is in the file, in order, without a close: what a
    SIGKILL then leaves is the whole stream (RELIABILITY.md, "Restart")."""
    frames = [encode(run_start(world_size=1))] + [encode(metrics(step, loss=1.0)) for step in range(1, 301)]
    recording = tmp_path / "stream.stratrec"
    pipeline = SinkPipeline(tmp_path, recorder=RecordingWriter(recording))
    service = SinkService(FrameReceiver("tcp://127.0.0.1:0"), pipeline, close_grace_s=0)
    sender.connect(service.receiver.address)
    thread = serve(service)
    try:
        for frame in frames:
            sender.send(frame)
        wait_for(lambda: service.pipeline.state.messages == len(frames), 30, what="every frame handled")
        wait_for(lambda: [record.frame for record in RecordingReader(recording)] == frames, 5,
                 what="every handled frame in the recording before any close")
    finally:
        service.stop()
        thread.join(timeout=10)
        service.close()
    assert [record.frame for record in RecordingReader(recording)] == frames
