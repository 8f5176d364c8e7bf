"""A sink started on a log folder its predecessor wrote goes on from that recording's tail
(`sink.resume`): sequence numbers continue, the run context is back, and only messages in
neither recording count as lost. Run: ./run-tests tests/sink/test_resume.py"""

from __future__ import annotations

import time

import msgspec

from stratlog.protocol import Heartbeat, RecordingWriter, RunEnd, encode
from stratlog.sink import resume
from stratlog.sink.pipeline import SinkPipeline
from tests.sink.builders import envelope, metrics, run_start


def _write(path, timed_messages) -> None:
    with RecordingWriter(path) as writer:
        for received_at, message in timed_messages:
            writer.write(encode(message), received_at=received_at, step=message.step)


def _stream(now: float, *, ranks=(0, 1), messages: int = 40) -> list:
    """Run starts, then heartbeats and metrics; rank 1 ends when `ranks` says it has ended."""
    timed = [(now - 100, msgspec.structs.replace(run_start(rank=rank), time=now - 100)) for rank in (0, 1)]
    for seq in range(1, messages):
        for rank in ranks:
            message = (metrics(seq, loss=1.0) if seq % 2 else Heartbeat(**envelope(step=seq)))
            timed.append((now - 100 + seq, msgspec.structs.replace(message, rank=rank, seq=seq, step=seq, time=now - 100 + seq)))
    return timed


def test_the_previous_recordings_tail_gives_each_open_rank_its_next_seq_and_the_run_context(tmp_path, monkeypatch):
    now = time.time()
    previous = tmp_path / "stream.stratrec"
    timed = _stream(now, ranks=(0,)) + [(now - 60, RunEnd(**envelope(rank=1, seq=1, step=0, time=now - 60), status="completed",
                                                          messages_sent=1, messages_dropped=0))]
    _write(previous, timed)
    monkeypatch.setattr(resume, "TAIL_BYTES", 2048)  # a tail that holds only the last records
    stream = resume.read_previous_stream(previous)
    assert stream is not None
    assert stream.open_ranks == {("run", 0): 40}  # rank 1 sent its run end: nothing to resume
    assert stream.run_starts[("run", 0)].seq == 0

    pipeline = SinkPipeline(tmp_path / "logs")
    pipeline.resume(stream, now)
    assert pipeline.contexts["run"].model_config  # the run context is back before any new message
    nxt = msgspec.structs.replace(metrics(41, loss=1.0), rank=0, seq=40, time=now + 1)
    later = msgspec.structs.replace(metrics(42, loss=1.0), rank=0, seq=45, time=now + 2)  # 41..44 really lost
    pipeline.handle(encode(nxt), now + 1)
    pipeline.handle(encode(later), now + 2)
    pipeline.close()
    gaps = [f for f in pipeline.state.recent_findings if f.check == "sequence_gap"]
    assert [f.value for f in gaps] == [{"missing": 4, "dropped_by_rank": 0, "lost_in_transit": 4}]
    log = (tmp_path / "logs" / "strategic_log.txt").read_text()
    assert "continued from stream.stratrec after a sink restart: rank 0 at seq 40" in log


def test_an_old_or_finished_recording_is_not_resumed(tmp_path):
    now = time.time()
    old = tmp_path / "old.stratrec"
    _write(old, _stream(now - 10 * resume.RESUME_WITHIN_S))
    assert resume.read_previous_stream(old) is None
    assert resume.previous_recording(tmp_path, old) is None  # its own recording is never "previous"
    assert resume.previous_recording(tmp_path, tmp_path / "new.stratrec") == old
