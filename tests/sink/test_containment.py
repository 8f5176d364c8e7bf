"""Whatever goes wrong with one frame stays with that frame: a failure while analysing, logging
or computing the dashboard's readings is counted as an analysis error with its reason
(events.jsonl, RunState, a finding) and the next frames are handled as usual; a multipart
ZeroMQ message is one malformed message, none of its parts read.
Run: ./run-tests tests/sink/test_containment.py"""

from __future__ import annotations

import numpy as np
import pytest
import zmq

from stratlog.protocol import Array, Heartbeat, encode
from stratlog.sink import snapshot_kinds
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline
from tests.processes import read_jsonl, serving, wait_for
from tests.sink.builders import envelope, input_snapshot, metrics, run_start

T0 = 1_700_000_000.0


def analysis_errors(log_dir) -> list[dict]:
    return [event for event in read_jsonl(log_dir / "events.jsonl") if event["event"] == "analysis_error"]


def test_a_frame_whose_log_entry_fails_is_counted_and_the_next_step_is_logged(tmp_path, monkeypatch):
    kinds = list(snapshot_kinds.SNAPSHOT_KINDS)
    section = kinds[0].section

    def broken_section(message, findings, context):
        if message.step == 10:
            raise TypeError("a section that cannot render this snapshot")
        return section(message, findings, context)

    kinds[0] = snapshot_kinds.SnapshotKind(kinds[0].key, kinds[0].message, kinds[0].analysis, broken_section,
                                           kinds[0].title, readings=kinds[0].readings)
    monkeypatch.setattr(snapshot_kinds, "SNAPSHOT_KINDS", tuple(kinds))
    pipeline = SinkPipeline(tmp_path)
    pipeline.handle(encode(run_start()), T0)
    pipeline.handle(encode(input_snapshot(seq=1, step=10)), T0 + 1)
    pipeline.handle(encode(input_snapshot(seq=2, step=20)), T0 + 2)
    pipeline.close()
    (error,) = analysis_errors(tmp_path)
    assert (error["where"], error["kind"], error["rank"], error["step"]) == ("input log section", "input_snapshot", 0, 10)
    assert error["error"].startswith("TypeError") and "broken_section" in error["at"]
    assert pipeline.state.analysis_errors == {"input log section": 1}
    (finding,) = [f for f in pipeline.state.recent_findings if f.check == "analysis_error"]
    assert finding.analysis == "input" and finding.step == 10 and finding.severity == "WARN"
    log = (tmp_path / "strategic_log.txt").read_text()
    assert "Step 10 ===" in log and "input: not written" in log and "Step 20 ===" in log


def test_a_metrics_analysis_that_fails_is_an_analysis_error_of_that_frame_alone(tmp_path, monkeypatch):
    pipeline = SinkPipeline(tmp_path)
    evaluate = pipeline.metrics_health.evaluate

    def broken(message, context):
        if message.step == 1:
            raise ZeroDivisionError("a check that cannot judge this message")
        return evaluate(message, context)

    monkeypatch.setattr(pipeline.metrics_health, "evaluate", broken)
    pipeline.handle(encode(run_start()), T0)
    pipeline.handle(encode(metrics(1, loss=2.0)), T0 + 1)
    pipeline.handle(encode(metrics(2, loss=1.5)), T0 + 2)
    pipeline.close()
    assert pipeline.state.analysis_errors == {"metrics analysis": 1}
    (error,) = analysis_errors(tmp_path)
    assert (error["where"], error["kind"], error["step"]) == ("metrics analysis", "metrics", 1)
    assert [row["step"] for row in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]
    judged = [f.step for f in pipeline.state.recent_findings if f.analysis == "metrics"]
    assert judged and set(judged) == {2}


def test_a_frame_that_breaks_the_sink_past_its_guards_is_counted_and_the_sink_goes_on(tmp_path, monkeypatch):
    pipeline = SinkPipeline(tmp_path)

    def broken(key, step, ended=False):
        raise RuntimeError("a sink bug")

    pipeline.handle(encode(run_start()), T0)
    monkeypatch.setattr(pipeline.entries, "rank_moved", broken)
    pipeline.handle(encode(metrics(1, loss=2.0)), T0 + 1)
    monkeypatch.undo()
    pipeline.handle(encode(metrics(2, loss=1.5)), T0 + 2)
    pipeline.close()
    assert pipeline.state.analysis_errors == {"handling": 1}
    assert [error["step"] for error in analysis_errors(tmp_path)] == [1]
    assert [row["step"] for row in read_jsonl(tmp_path / "metrics.jsonl")] == [2]


def test_a_viewer_failing_on_a_message_is_counted_and_the_analysis_still_runs(tmp_path, monkeypatch):
    pipeline = SinkPipeline(tmp_path)
    model = DashboardModel.attach(pipeline)

    def broken(message):
        raise KeyError("a viewer bug")

    monkeypatch.setattr(model, "message_applied", broken)
    pipeline.handle(encode(run_start()), T0)
    pipeline.handle(encode(input_snapshot(seq=1)), T0 + 1)
    pipeline.close()
    assert pipeline.state.analysis_errors == {"dashboard readings": 2}
    assert [f.check for f in pipeline.state.recent_findings if f.analysis == "input"].count("reference_audio") == 1
    assert "Input Sequence Analysis" in (tmp_path / "strategic_log.txt").read_text()


def test_input_ids_of_the_wrong_rank_never_stop_the_log(tmp_path):
    """The issue's killer, [1, 2] input_ids: the decoder refuses it, and past the decoder the
    log renders it anyway (ids in order)."""
    pipeline = SinkPipeline(tmp_path)
    pipeline.handle(encode(run_start()), T0)
    wrong = input_snapshot(seq=1)
    wrong.input_ids = Array.from_numpy(np.array([[5, 6]], dtype=np.int32))
    pipeline.handle(encode(wrong), T0 + 1)
    pipeline.handle_message(wrong, T0 + 1)
    pipeline.close()
    assert sum(pipeline.state.bad_frames.values()) == 1 and not pipeline.state.analysis_errors
    assert "ids shown raw> [5, 6]" in (tmp_path / "strategic_log.txt").read_text()


@pytest.fixture
def live_sink(tmp_path):
    with serving(SinkPipeline(tmp_path)) as service:
        yield service


def test_a_multipart_message_is_one_malformed_message_and_no_part_is_read(live_sink, tmp_path):
    context = zmq.Context()
    sender = context.socket(zmq.PUSH)
    sender.setsockopt(zmq.LINGER, 0)
    sender.connect(live_sink.receiver.address)
    try:
        sender.send(encode(run_start()))
        sender.send_multipart([b"topic", encode(Heartbeat(**envelope(seq=1, step=5)))])
        sender.send(encode(metrics(2, loss=1.0)))
        wait_for(lambda: live_sink.pipeline.state.messages >= 2, 5, what="the metrics after the multipart message")
    finally:
        sender.close()
        context.term()
    state = live_sink.pipeline.state
    assert state.bad_frames == {"MalformedFrame": 1}
    assert state.messages == 2 and state.ranks[0].step == 2  # the heartbeat of step 5 was not read
    live_sink.pipeline.files.flush()
    (refused,) = [event for event in read_jsonl(tmp_path / "events.jsonl") if event["event"] == "bad_frame"]
    assert "multipart" in refused["detail"]
