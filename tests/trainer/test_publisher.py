"""SnapshotPublisher over real ZeroMQ sockets: drops are counted and reported exactly, close()
is bounded with no sink, and the spool keeps everything.
Run: ./run-tests tests/trainer/test_publisher.py"""

from __future__ import annotations

import time

import zmq

from stratlog.protocol import Heartbeat, Metrics, RecordingReader, RunEnd, decode
from tests.processes import free_address
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher


def test_every_drop_is_reported_and_the_run_end_adds_up():
    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    sink.setsockopt(zmq.RCVHWM, 5)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    publisher = SnapshotPublisher(PublisherConfig(address=f"tcp://127.0.0.1:{port}", run_id="r", rank=0, world_size=1,
                                                  send_high_water_mark=5, heartbeat_interval_s=60))
    for step in range(3000):  # far more than the two queues of 5 hold while nobody reads
        publisher.send(Metrics, step=step, values={"loss": float(step)})
    time.sleep(0.5)
    received = []
    poller_deadline = time.monotonic() + 10
    publisher_closed = False
    while time.monotonic() < poller_deadline:
        if sink.poll(200):
            received.append(decode(sink.recv()))
            if isinstance(received[-1], RunEnd):
                break
        elif not publisher_closed:
            publisher.close()  # the run end goes out once the backlog has drained
            publisher_closed = True
    sink.close(linger=0)
    context.term()
    end = received[-1]
    assert isinstance(end, RunEnd)
    assert publisher.dropped > 0, "the test must actually overflow the queues"
    seen = {m.seq for m in received}
    missing = set(range(end.seq)) - seen
    assert sum(m.dropped for m in received) == len(missing) == end.messages_dropped == publisher.dropped
    assert end.messages_sent + end.messages_dropped == end.seq


def test_close_returns_quickly_with_no_sink_and_the_spool_keeps_everything(tmp_path):
    publisher = SnapshotPublisher(PublisherConfig(address=free_address(), run_id="r", rank=3, world_size=4,
                                                  heartbeat_interval_s=0.05, close_timeout_s=1.0, spool_dir=str(tmp_path)))
    for step in range(1, 21):
        publisher.send(Metrics, step=step, values={"loss": 1.0})
    time.sleep(0.3)  # long enough for heartbeats
    start = time.monotonic()
    publisher.close()
    assert time.monotonic() - start < 1.5
    spooled = [decode(record.frame) for record in RecordingReader(next(tmp_path.glob("spool-rank3-*.stratrec")))]
    assert [m.step for m in spooled if isinstance(m, Metrics)] == list(range(1, 21))
    assert any(isinstance(m, Heartbeat) for m in spooled) and isinstance(spooled[-1], RunEnd)
    assert [m.seq for m in spooled] == list(range(len(spooled)))
