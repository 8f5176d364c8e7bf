"""Replay through the same pipeline: findings.jsonl byte-identical to the live sink's, the human
log identical after the replay marker, stalls included. Run: ./run-tests tests/sink/test_replay.py"""

from __future__ import annotations

from stratlog.protocol import Heartbeat, RecordingWriter
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import replay_recording
from tests.sink.builders import envelope, metrics, run_start
from tests.sink.test_pipeline import T0, feed, snapshots


def test_replay_reproduces_findings_and_log_including_stalls_and_bad_frames(tmp_path):
    live_dir, replay_dir = tmp_path / "live", tmp_path / "replay"
    live = SinkPipeline(live_dir, recorder=RecordingWriter(tmp_path / "stream.stratrec"))
    timed = [(T0, run_start(rank=0)), (T0 + 0.5, run_start(rank=1))]
    timed += [(T0 + 1 + i * 0.01, m) for i, m in enumerate(snapshots(0, 10, 1) + snapshots(1, 10, 1))]
    timed += [(T0 + 2 + i, Heartbeat(**envelope(rank=0, seq=4 + i, step=10))) for i in range(1, 8)]
    timed += [(T0 + 10, metrics(11, loss=float("nan")))]
    feed(live, timed[:5])
    live.handle(b"\x93garbage", T0 + 1.02)
    feed(live, timed[5:-3])
    live.advance_clock(T0 + 7.5)  # a live idle tick between two frames: rank 1 is silent for > 6 s
    feed(live, timed[-3:])
    live.close()
    replayed = SinkPipeline(replay_dir)
    replay_recording(tmp_path / "stream.stratrec", replayed)
    replayed.close()
    live_findings = (live_dir / "findings.jsonl").read_bytes()
    assert live_findings == (replay_dir / "findings.jsonl").read_bytes()
    assert b'"check": "stall"' in live_findings and b'"check": "bad_frame"' in live_findings
    marker, _, rest = (replay_dir / "strategic_log.txt").read_text().partition("\n\n")
    assert marker.startswith("=== Replay of ")
    assert rest == (live_dir / "strategic_log.txt").read_text()
