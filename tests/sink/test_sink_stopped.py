"""A sink process that was itself stopped (SIGSTOP, a suspended VM) does not judge stalls on its
first idle turn: the backlog that waited in the sockets is received first (`SinkService`).
Run: ./run-tests tests/sink/test_sink_stopped.py"""

from __future__ import annotations

import time

import msgspec

from stratlog.protocol import encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver
from stratlog.sink.service import STOPPED_AFTER_S, SinkService
from tests.sink.builders import run_start


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
