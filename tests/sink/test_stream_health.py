"""Stream health through real sockets: a real PULL sink in a thread, real PUSH senders that skip
sequence numbers, stop sending, or send garbage. Run: ./run-tests tests/sink/test_stream_health.py"""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from stratlog.protocol import Heartbeat, Metrics, RunEnd, encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.service import SinkService
from tests.processes import serving, wait_for
from tests.sink.builders import envelope, metrics, run_start

STALL_AFTER_S = 0.5


@pytest.fixture
def sink(tmp_path):
    """A live sink on a free port, serving in a thread; stalls after 0.5 s so tests stay fast."""
    with serving(SinkPipeline(tmp_path, stall_after_s=STALL_AFTER_S)) as service:
        yield service


@pytest.fixture
def sender(sink):
    context = zmq.Context()
    socket = context.socket(zmq.PUSH)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(sink.receiver.address)
    yield socket
    socket.close()
    context.term()


def findings_of(service: SinkService, check: str) -> list:
    with service.pipeline.state.lock:
        return [finding for finding in service.pipeline.state.recent_findings if finding.check == check]


def received(service: SinkService, count: int) -> None:
    wait_for(lambda: service.pipeline.state.messages >= count, 5, what=f"{count} messages at the sink")


def test_skipped_sequence_numbers_are_a_gap_split_into_dropped_and_lost(sink, sender):
    sender.send(encode(run_start()))
    sender.send(encode(metrics(1, loss=5.0)))  # seq 1
    skipped = metrics(2, loss=4.9)
    skipped.seq, skipped.dropped = 5, 1  # seq 2, 3, 4 never arrive; the rank says it dropped one of them
    sender.send(encode(skipped))
    received(sink, 3)
    assert sink.pipeline.state.ranks[0].gaps == 3
    assert sink.pipeline.state.ranks[0].reported_drops == 1
    (gap,) = findings_of(sink, "sequence_gap")
    assert gap.severity == "WARN" and gap.value == {"missing": 3, "dropped_by_rank": 1, "lost_in_transit": 2}
    assert "seq 2..4" in gap.reason and "send queue was full" in gap.reason and "lost in transit" in gap.reason


def test_a_sender_that_stops_heartbeats_is_stalled_then_resumes(sink, sender):
    sender.send(encode(run_start()))

    def heartbeats(count: int, first_seq: int) -> None:
        for seq in range(first_seq, first_seq + count):
            sender.send(encode(Heartbeat(**envelope(seq=seq, step=0))))
            time.sleep(0.1)

    beating = threading.Thread(target=heartbeats, args=(5, 1))
    beating.start()
    beating.join()  # the sender goes quiet here
    assert not findings_of(sink, "stall"), "no stall while heartbeats were coming"
    stall = wait_for(lambda: findings_of(sink, "stall"), 3, what="the stall finding")[0]
    assert stall.severity == "FAIL" and "hung or died" in stall.reason and stall.value == STALL_AFTER_S
    assert sink.pipeline.state.ranks[0].stalled
    heartbeats(1, 6)
    resumed = wait_for(lambda: findings_of(sink, "stall")[1:], 3, what="the resume finding")[0]
    assert resumed.severity == "OK" and "resumed after" in resumed.reason
    assert not sink.pipeline.state.ranks[0].stalled


def test_bad_frames_are_counted_by_reason_and_the_sink_keeps_serving(sink, sender):
    good = encode(run_start())
    newer = good.replace(b"\xa7version\x01", b"\xa7version\x02")
    for frame in (b"not msgpack at all", good[:-3], newer):
        sender.send(frame)
    sender.send(good)
    received(sink, 1)
    wait_for(lambda: sum(sink.pipeline.state.bad_frames.values()) == 3, 5, what="3 bad frames counted")
    assert sink.pipeline.state.bad_frames == {"MalformedFrame": 2, "UnsupportedVersion": 1}
    bad = findings_of(sink, "bad_frame")
    assert len(bad) == 3 and all(f.severity == "WARN" and "the sink goes on" in f.reason for f in bad)
    assert "UnsupportedVersion" in bad[2].reason
    assert sink.pipeline.state.run_id == "run"  # the good frame after the bad ones went through


def test_two_runs_into_one_sink_keep_their_own_ranks_and_the_newest_is_shown(sink, sender):
    """Two experiments sending to one address: neither's sequence numbers count as the other's gaps;
    the newer is shown from its first real step (a metrics message), not from its run start."""
    first, second = {"run_id": "first", "world_size": 1}, {"run_id": "second", "world_size": 1}
    sender.send(encode(run_start(**first)))
    sender.send(encode(Heartbeat(**envelope(seq=1, step=1, **first))))
    sender.send(encode(run_start(**second)))
    for seq in (2, 3):
        sender.send(encode(Heartbeat(**envelope(seq=seq, step=seq, **first))))
    sender.send(encode(Metrics(**envelope(seq=1, step=7, **second), values={"loss": 1.0})))
    received(sink, 6)
    state = sink.pipeline.state
    assert state.run_id == "second" and state.step == 7
    assert {run: rank.received for run, ranks in state.runs.items() for rank in ranks.values()} == {"first": 4, "second": 2}
    assert not findings_of(sink, "sequence_gap")
    assert not state.finished
    for run, seq in (("first", 4), ("second", 2)):
        sender.send(encode(RunEnd(**envelope(seq=seq, step=9, run_id=run, world_size=1), status="completed",
                                  messages_sent=seq, messages_dropped=0)))
    wait_for(lambda: state.finished, 5, what="both runs to end")
    assert [f.severity for f in findings_of(sink, "run_end")] == ["OK", "OK"]
