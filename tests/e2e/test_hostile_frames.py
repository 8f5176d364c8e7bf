"""A real `stratlog sink` process, over a real socket, gets every frame issue 16 found wrong (the
[1, 2] input_ids that used to stop it, the frames PROTOCOL.md calls invalid, a multipart message
carrying a heartbeat): it stays up, counts each one, and then the recorded demo run through the
same sink still logs every step of every rank. Run: ./run-tests tests/e2e/test_hostile_frames.py"""

from __future__ import annotations

import re
import signal

import zmq

from stratlog.protocol import Heartbeat, Metrics, MessageDecoder, RecordingReader, encode
from tests.processes import read_jsonl, replayed_log, start_sink, wait_for
from tests.protocol.test_constraints import ISSUE_16_FRAMES
from tests.sink.builders import envelope
from tests.tui.replayed import RECORDING, TOKENIZER


def entry_headers(log: str) -> list[str]:
    return sorted(re.findall(r"Training Log - Step \d+ ===\nTimestamp: .*\nRank: \d+", log))


def test_hostile_frames_are_counted_and_a_recorded_run_after_them_is_logged_whole(tmp_path, process_group):
    log_dir = tmp_path / "sink"
    sink, address = start_sink(process_group, log_dir, tmp_path / "address", "--tokenizer", str(TOKENIZER))
    context = zmq.Context()
    sender = context.socket(zmq.PUSH)
    sender.setsockopt(zmq.LINGER, 5000)
    sender.connect(address)
    recorded = list(RecordingReader(RECORDING))
    try:
        for frame, *_ in ISSUE_16_FRAMES.values():
            sender.send(frame)
        sender.send_multipart([b"", encode(Heartbeat(**envelope(run_id="hostile", seq=1)))])
        hostile = len(ISSUE_16_FRAMES) + 1
        refused = lambda: [e for e in read_jsonl(log_dir / "events.jsonl") if e["event"] == "bad_frame"]  # noqa: E731
        wait_for(lambda: len(refused()) == hostile, 30, what="every hostile frame counted")
        assert sink.poll() is None, "the sink stopped"
        for record in recorded:
            sender.send(record.frame)
        decoder = MessageDecoder()
        steps = {(m.rank, m.step) for m in map(decoder.decode, (r.frame for r in recorded)) if isinstance(m, Metrics)}
        wait_for(lambda: {(row["rank"], row["step"]) for row in read_jsonl(log_dir / "metrics.jsonl")} >= steps, 30,
                 what="every recorded step's metrics")
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=30) == 0
    finally:
        sender.close()
        context.term()

    events = read_jsonl(log_dir / "events.jsonl")
    assert len([e for e in events if e["event"] == "bad_frame"]) == hostile  # each counted once, none twice
    assert [e["reason"] for e in events if e["event"] == "bad_frame" and "multipart" in e["detail"]] == ["MalformedFrame"]
    assert not [e for e in events if e["event"] == "analysis_error"]
    live = (log_dir / "strategic_log.txt").read_text()
    replayed = replayed_log(RECORDING, tmp_path / "replay")
    assert entry_headers(live) and entry_headers(live) == entry_headers(replayed)  # every step of every rank
    for title in ("Input Sequence Analysis:", "Output Analysis:", "Zero-Shot Verification:"):
        assert live.count(title) == replayed.count(title)
