"""A sink process that was itself stopped (SIGSTOP, a suspended VM) does not judge stalls on its
first idle turn: the backlog that waited in the sockets is received first; and a sink told to
stop waits (bounded) for the ranks' run ends still on their way (`SinkService`).
Run: ./run-tests tests/sink/test_sink_stopped.py"""

from __future__ import annotations

import threading
import time

import msgspec

from stratlog.protocol import RunStart, encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver
from stratlog.sink.service import STOPPED_AFTER_S, SinkService
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher
from tests.sink.builders import run_start

RUN_START_FIELDS = dict(model_path="m", tokenizer_path="", audio_tokenizer_path="a", model_config={}, training_args={},
                        hostname="h", pid=1, capture_interval=10, capture_ranks=[], heartbeat_interval_s=2.0)


def stalls(service: SinkService) -> list:
    return [finding for finding in service.pipeline.state.recent_findings if finding.check == "stall"]


def test_the_first_idle_turn_after_the_sink_was_stopped_judges_no_stall(tmp_path):
    service = SinkService(FrameReceiver("tcp://127.0.0.1:0"), SinkPipeline(tmp_path), close_grace_s=0)
    silent_since = time.time() - 30  # a rank heard from 30 s ago: past its 6 s limit by the wall clock
    for rank in (0, 1):
        message = msgspec.structs.replace(run_start(rank=rank), time=silent_since)
        service.pipeline.handle(encode(message), silent_since)
    service._last_turn = time.monotonic() - 10 * STOPPED_AFTER_S  # the previous turn began before a 10 s stop
    service.run(should_stop=lambda: True)  # one turn: nothing received yet
    assert stalls(service) == []
    service.run(should_stop=lambda: True)  # the next turn: still nothing arrived, so the silence is real
    assert sorted(finding.rank for finding in stalls(service)) == [0, 1]
    service.close()


def test_a_closing_sink_waits_for_the_run_ends_still_on_their_way(tmp_path):
    """The demo's Ctrl-C: the sink is told to stop, the ranks' run ends come a moment later."""
    service = SinkService(FrameReceiver("tcp://127.0.0.1:0"), SinkPipeline(tmp_path), close_grace_s=10)
    publishers = [SnapshotPublisher(PublisherConfig(address=service.receiver.address, run_id="r", rank=rank, world_size=2))
                  for rank in (0, 1)]
    for publisher in publishers:
        publisher.send(RunStart, step=0, **RUN_START_FIELDS)
    service.run(should_stop=lambda: len(service.pipeline.state.ranks) == 2)
    closing = threading.Thread(target=service.close)
    closing.start()  # the sink stops receiving new work, but waits ...
    time.sleep(0.5)
    for publisher in publishers:  # ... for the ranks, which end after it was told to stop
        publisher.close(status="interrupted")
    closing.join(timeout=10)
    assert not closing.is_alive()  # it ended once both run ends were in, not at the 10 s grace
    assert {rank.rank: rank.ended for rank in service.pipeline.state.ranks.values()} == {0: "interrupted", 1: "interrupted"}
    assert (tmp_path / "strategic_log.txt").read_text().count("interrupted at step 0") == 2
