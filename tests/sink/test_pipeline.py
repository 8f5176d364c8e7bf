"""The pipeline on hand-built frames: one log entry per step and rank with every analysis tree,
findings.jsonl, and time taken only from receive times. Run: ./run-tests tests/sink/test_pipeline.py"""

from __future__ import annotations

import json

import msgspec

from stratlog.protocol import Heartbeat, RunEnd, encode
from stratlog.sink.pipeline import SinkPipeline
from tests.sink.builders import (
    attention_snapshot,
    envelope,
    input_snapshot,
    metrics,
    output_snapshot,
    run_start,
    zero_shot_snapshot,
)

T0 = 1_700_000_000.0


def snapshots(rank: int, step: int, first_seq: int) -> list:
    builders = (input_snapshot, output_snapshot, attention_snapshot, zero_shot_snapshot)
    return [build(rank=rank, step=step, seq=first_seq + offset) for offset, build in enumerate(builders)]


def feed(pipeline: SinkPipeline, timed_messages, *, sent_at=None) -> None:
    """Each message received at its time and sent then too (or at `sent_at(received_at)`)."""
    for received_at, message in timed_messages:
        sent = received_at if sent_at is None else sent_at(received_at)
        pipeline.handle(encode(msgspec.structs.replace(message, time=sent)), received_at)


def test_interleaved_ranks_get_one_entry_each_with_all_four_trees(tmp_path):
    pipeline = SinkPipeline(tmp_path)
    rank0, rank1 = snapshots(0, 10, 1), snapshots(1, 10, 1)
    interleaved = [message for pair in zip(rank0, rank1) for message in pair]
    feed(pipeline, [(T0, run_start(rank=0)), (T0, run_start(rank=1))])
    feed(pipeline, [(T0 + 1 + i * 0.01, message) for i, message in enumerate(interleaved)])
    pipeline.close()
    log = (tmp_path / "strategic_log.txt").read_text()
    assert log.count("=== Zero-Shot Voice Cloning Training Log - Step 10 ===") == 2
    for rank in (0, 1):
        entry = log.split(f"Rank: {rank} of 2")[1].split("===")[0]
        titles = [line for line in entry.splitlines() if line.endswith(":") and not line.startswith(("├", "└"))]
        assert titles == ["Input Sequence Analysis:", "Output Analysis:", "Shared Attention / DualFFN Analysis:",
                          "Zero-Shot Verification:"]
        assert "[OK] reference_audio:" in entry and "[OK] dual_ffn_gradient:" in entry
    findings = [json.loads(line) for line in (tmp_path / "findings.jsonl").read_text().splitlines()]
    assert {f["analysis"] for f in findings} == {"stream", "input", "output", "attention", "zero_shot"}
    assert set(findings[0]) == {"run_id", "rank", "step", "analysis", "check", "severity", "reason", "value"}


def test_an_entry_is_written_once_its_rank_goes_quiet_by_receive_time(tmp_path):
    pipeline = SinkPipeline(tmp_path)
    feed(pipeline, [(T0, run_start()), (T0 + 1, input_snapshot(seq=1))])
    pipeline.advance_clock(T0 + 2)
    pipeline.files.flush()
    assert "Input Sequence Analysis" not in (tmp_path / "strategic_log.txt").read_text()
    pipeline.advance_clock(T0 + 3.5)  # ENTRY_GRACE_S after the snapshot
    pipeline.files.flush()
    assert "Input Sequence Analysis" in (tmp_path / "strategic_log.txt").read_text()
    pipeline.close()


def test_stalls_come_from_receive_times_not_from_the_clock(tmp_path):
    """3 x a 2 s heartbeat: rank 1 silent from T0 + 1 is stalled when a frame arrives at T0 + 8."""
    pipeline = SinkPipeline(tmp_path)
    feed(pipeline, [(T0, run_start(rank=0)), (T0 + 1, run_start(rank=1))])
    feed(pipeline, [(T0 + 2 * i, Heartbeat(**envelope(rank=0, seq=i, step=0))) for i in range(1, 4)])
    assert not [f for f in pipeline.state.recent_findings if f.check == "stall"]
    feed(pipeline, [(T0 + 8, metrics(1, loss=3.0))])
    stalls = [f for f in pipeline.state.recent_findings if f.check == "stall"]
    assert [(f.rank, f.severity, f.value) for f in stalls] == [(1, "FAIL", 6.0)]
    pipeline.close()


def test_a_paused_sink_judges_its_backlog_by_when_it_was_sent(tmp_path):
    """The sink stops for 30 s (SIGSTOP) while both ranks send a heartbeat every 2 s; then it
    receives the backlog all at once. Sent on time: no stall. Then rank 1 really goes silent."""
    pipeline = SinkPipeline(tmp_path)
    feed(pipeline, [(T0, run_start(rank=0)), (T0, run_start(rank=1))])
    resumed = T0 + 31
    backlog = [(T0 + 2 * i, Heartbeat(**envelope(rank=rank, seq=i, step=0))) for i in range(1, 16) for rank in (0, 1)]
    for sent, message in backlog:
        feed(pipeline, [(resumed, message)], sent_at=lambda _, sent=sent: sent)
    assert not [f for f in pipeline.state.recent_findings if f.check == "stall"]
    feed(pipeline, [(resumed + 2 * i, Heartbeat(**envelope(rank=0, seq=15 + i, step=0))) for i in range(1, 5)])
    stalls = [f for f in pipeline.state.recent_findings if f.check == "stall"]
    assert [(f.rank, f.severity) for f in stalls] == [(1, "FAIL")]
    pipeline.close()


def test_a_viewer_pipeline_starts_each_rank_where_it_joined_but_still_counts_later_gaps(tmp_path):
    pipeline = SinkPipeline(tmp_path, joined_mid_stream=True)
    try:
        for seq in (40, 41, 45):  # joined at 40; 42..44 never arrive
            pipeline.handle(encode(metrics(seq, loss=1.0)), 0.0)
        rank = pipeline.state.ranks[0]
        assert (rank.first_seq, rank.gaps, rank.next_seq) == (40, 3, 46)
    finally:
        pipeline.close()


def test_a_run_whose_rank_stopped_without_a_run_end_is_aborted_and_finished(tmp_path):
    pipeline = SinkPipeline(tmp_path)
    feed(pipeline, [(T0, run_start(rank=0)), (T0, run_start(rank=1)), (T0 + 1, metrics(1, loss=3.0))])
    feed(pipeline, [(T0 + 2, RunEnd(**envelope(rank=0, seq=2, step=1), status="terminated", messages_sent=2,
                                    messages_dropped=0))])
    assert not pipeline.state.finished  # rank 1 may still be working
    pipeline.advance_clock(T0 + 6.5)  # rank 1 silent since T0: past 3 x its 2 s heartbeat
    assert pipeline.state.finished  # --exit-after-run stops here
    pipeline.close()
    findings = [json.loads(line) for line in (tmp_path / "findings.jsonl").read_text().splitlines()]
    assert [(f["rank"], f["severity"], f["value"]) for f in findings if f["check"] in ("stall", "run_aborted")] == [
        (1, "FAIL", 6.0), (None, "FAIL", [1])]
    assert ("aborted: 1 of 2 rank(s) stopped without a run end (rank 1 after step 0)"
            in (tmp_path / "strategic_log.txt").read_text())
