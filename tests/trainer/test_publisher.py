"""SnapshotPublisher over real ZeroMQ sockets: drops are counted and reported exactly, close()
is bounded with no sink, and the spool keeps everything.
Run: ./run-tests tests/trainer/test_publisher.py"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import zmq

from stratlog.protocol import Heartbeat, Metrics, RecordingReader, RunEnd, RunStart, decode
from tests.processes import free_address, wait_for
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


def _run_start_fields() -> dict:
    return dict(model_path="m", tokenizer_path="t", audio_tokenizer_path="a", model_config={}, training_args={},
                hostname="h", pid=1, capture_interval=10, capture_ranks=[], heartbeat_interval_s=0.2)


def _receive_until(sink: zmq.Socket, done, timeout_s: float = 10.0) -> list:
    received = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done(received):
        if sink.poll(100):
            received.append(decode(sink.recv()))
    return received


def test_a_sink_that_comes_back_gets_the_run_start_again_with_the_next_seq():
    context = zmq.Context()
    address = free_address()
    first = context.socket(zmq.PULL)
    first.bind(address)
    publisher = SnapshotPublisher(PublisherConfig(address=address, run_id="r", rank=0, world_size=1, heartbeat_interval_s=0.2))
    publisher.send(RunStart, step=0, **_run_start_fields())
    publisher.send(Metrics, step=1, values={"loss": 1.0})
    before = _receive_until(first, lambda got: any(isinstance(m, Metrics) for m in got))
    first.close(linger=0)  # the sink goes away ...
    time.sleep(0.3)  # (what is sent into the closing connection itself is lost in transit)
    publisher.send(Metrics, step=2, values={"loss": 1.0})
    second = context.socket(zmq.PULL)  # ... and a new one binds the same address
    second.bind(address)
    after = _receive_until(second, lambda got: any(isinstance(m, RunStart) for m in got))
    publisher.close()
    second.close(linger=0)
    context.term()
    assert [m.seq for m in before if isinstance(m, RunStart)] == [0]
    resent = [m for m in after if isinstance(m, RunStart)]
    assert len(resent) == 1 and resent[0].seq > 0 and resent[0].model_path == "m"
    assert publisher.context_resends == 1
    assert [m.step for m in after if isinstance(m, Metrics)] == [2]  # what it sent while the sink was away waited


SIGTERM_SCRIPT = """
import sys, time
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher
from stratlog.trainer.strategic.termination import close_on_sigterm
from stratlog.protocol import Metrics
publisher = SnapshotPublisher(PublisherConfig(address=sys.argv[1], run_id="r", rank=0, world_size=1))
assert close_on_sigterm(publisher)
step = 0
while True:  # "training": never looks at signals
    step += 1
    publisher.send(Metrics, step=step, values={"loss": 1.0})
    if step == 5:
        print("training", flush=True)
    time.sleep(0.01)
"""


def test_sigterm_sends_the_run_end_terminated_and_ends_the_process_by_the_signal(process_group):
    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    rank = process_group.start([sys.executable, "-c", SIGTERM_SCRIPT, f"tcp://127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, text=True)
    assert rank.stdout.readline().strip() == "training"
    signalled = time.monotonic()
    rank.send_signal(signal.SIGTERM)
    code = rank.wait(timeout=10)
    ended_after_s = time.monotonic() - signalled
    received = _receive_until(sink, lambda got: got and isinstance(got[-1], RunEnd), timeout_s=5)
    sink.close(linger=0)
    context.term()
    assert code == -signal.SIGTERM  # ended by the signal, as without the handler
    assert ended_after_s < 5  # bounded by close_timeout_s (2 s), not by training
    end = received[-1]
    assert isinstance(end, RunEnd) and end.status == "terminated"
    assert end.messages_sent + end.messages_dropped == end.seq
    assert [m.seq for m in received] == list(range(end.seq + 1))


def test_a_full_spool_disk_loses_spool_records_but_not_the_stream(tmp_path, monkeypatch):
    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    writev = os.writev
    full = {"on": False}

    def refusing(fd, parts):
        if full["on"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return writev(fd, parts)

    monkeypatch.setattr(os, "writev", refusing)
    publisher = SnapshotPublisher(PublisherConfig(address=f"tcp://127.0.0.1:{port}", run_id="r", rank=0, world_size=1,
                                                  heartbeat_interval_s=60, spool_dir=str(tmp_path)))
    for first, disk_full in ((1, False), (11, True), (21, False)):  # the spool's disk is full for steps 11..20
        full["on"] = disk_full
        for step in range(first, first + 10):
            publisher.send(Metrics, step=step, values={"loss": 1.0})
        wait_for(lambda: publisher.sent >= first + 9, 10, what="the sender thread to pass them on")
    publisher.close()
    received = _receive_until(sink, lambda got: got and isinstance(got[-1], RunEnd))
    sink.close(linger=0)
    context.term()
    assert [m.step for m in received if isinstance(m, Metrics)] == list(range(1, 31))  # the sink got everything
    spooled = [decode(record.frame) for record in RecordingReader(next(tmp_path.glob("spool-rank0-*.stratrec")))]
    spooled_steps = [m.step for m in spooled if isinstance(m, Metrics)]
    assert spooled_steps == list(range(1, 11)) + list(range(21, 31))  # the refused records lost whole
    assert publisher.spool_errors == 10
    assert isinstance(spooled[-1], RunEnd)
