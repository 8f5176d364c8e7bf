"""Refused frames are all counted but only sampled into the outputs, and a run start never takes
over the run shown (issue 18, item 2), live and in a replay. Run: ./run-tests tests/sink/test_refusals.py"""

from __future__ import annotations

from stratlog.protocol import Metrics, RecordingReader, RecordingWriter, encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.refusals import RECORDED_REFUSAL_BYTES, WINDOW_S, WRITTEN_PER_WINDOW, RefusalSampler
from stratlog.sink.replay import replay_recording
from tests.processes import read_jsonl
from tests.sink.builders import envelope, run_start

T0 = 1_700_000_000.0


def metrics(step: int, loss: float, **head) -> Metrics:
    return Metrics(**envelope(**{"step": step, "seq": step, **head}), values={"loss": loss})


def test_the_sampler_writes_the_first_of_each_reason_per_window_and_says_how_many_it_skipped():
    sampler = RefusalSampler(written_per_window=2, window_s=60)
    decisions = [sampler.admit("Junk", T0 + i) for i in range(5)]
    assert decisions == [0, 0, None, None, None]
    assert sampler.admit("Other", T0 + 5) == 0  # each reason has its own window
    assert sampler.admit("Junk", T0 + 60) == 3  # a new window: written again, with the count it skipped
    assert sampler.admit("Junk", T0 + 61) == 0
    assert sampler.admit("Junk", T0 + 62) is None
    assert sampler.take_unwritten() == {"Junk": 1}
    assert sampler.take_unwritten() == {}


def test_a_junk_flood_is_counted_whole_but_written_only_sampled(tmp_path):
    log_dir = tmp_path / "logs"
    recording = tmp_path / "stream.stratrec"
    pipeline = SinkPipeline(log_dir, recorder=RecordingWriter(recording))
    pipeline.handle(encode(run_start(world_size=1)), T0)
    junk = 1_000
    for i in range(junk):
        pipeline.handle(b"junk %d" % i, T0 + 1 + i * 0.01)  # 10 s: one window
    pipeline.handle(b"junk after a minute", T0 + 1 + WINDOW_S)
    pipeline.handle(encode(metrics(5, loss=1.0, run_id="run", world_size=1)), T0 + 2 + WINDOW_S)
    pipeline.close()

    assert pipeline.state.bad_frames == {"MalformedFrame": junk + 1}
    events = read_jsonl(log_dir / "events.jsonl")
    bad = [event for event in events if event["event"] == "bad_frame"]
    assert len(bad) == WRITTEN_PER_WINDOW + 1
    assert bad[-1]["unwritten_before"] == junk - WRITTEN_PER_WINDOW
    findings = [f for f in read_jsonl(log_dir / "findings.jsonl") if f["check"] == "bad_frame"]
    assert len(findings) == WRITTEN_PER_WINDOW + 1
    assert (log_dir / "strategic_log.txt").read_text().count("bad_frame") == WRITTEN_PER_WINDOW + 1
    records = list(RecordingReader(recording))
    assert len(records) == 2 + WRITTEN_PER_WINDOW + 1  # run start, metrics, the sampled junk
    assert pipeline.state.ranks[0].received == 2  # the real run went through whole


def test_unwritten_refusals_left_at_the_end_are_one_closing_event(tmp_path):
    pipeline = SinkPipeline(tmp_path)
    for i in range(WRITTEN_PER_WINDOW + 7):
        pipeline.handle(b"junk", T0 + i)
    pipeline.close()
    closing = [event for event in read_jsonl(tmp_path / "events.jsonl") if event["event"] == "bad_frames_unwritten"]
    assert closing == [{"event": "bad_frames_unwritten", "reason": "MalformedFrame", "count": 7}]


def shown_runs(pipeline: SinkPipeline, timed_messages) -> list[str]:
    shown = []
    for received_at, message in timed_messages:
        pipeline.handle(encode(message), received_at)
        shown.append(pipeline.state.run_id)
    return shown


REAL = {"run_id": "real", "world_size": 1}
FORGED = {"run_id": "forged", "world_size": 1}
NEXT = {"run_id": "next", "world_size": 1}
STREAM = [
    (T0, run_start(**REAL)),
    (T0 + 1, metrics(1, loss=2.0, **REAL)),
    (T0 + 2, run_start(**FORGED)),            # a stranger's run start: not shown
    (T0 + 2.5, run_start(**REAL, seq=2)),  # a repeated run id: no takeover either
    (T0 + 3, metrics(3, loss=1.9, **REAL)),
    (T0 + 4, run_start(**NEXT)),              # the next experiment on the same sink ...
    (T0 + 5, metrics(4, loss=1.8, **REAL)),
    (T0 + 6, metrics(1, loss=3.0, **NEXT)),   # ... is shown from its first real step
    (T0 + 7, metrics(5, loss=1.7, **REAL)),   # the older run stepping again does not take it back
]
SHOWN = ["real"] * 7 + ["next", "next"]


def test_a_run_start_never_takes_over_the_shown_run_only_a_later_run_s_real_steps_do(tmp_path):
    assert shown_runs(SinkPipeline(tmp_path), STREAM) == SHOWN


def test_a_replay_shows_the_same_run_as_the_live_sink(tmp_path):
    recording = tmp_path / "stream.stratrec"
    live = SinkPipeline(tmp_path / "live", recorder=RecordingWriter(recording))
    shown_runs(live, STREAM[:5])
    live.close()
    replay = SinkPipeline(tmp_path / "replay")
    replay_recording(recording, replay)
    replay.close()
    assert replay.state.run_id == live.state.run_id == "real"
    assert replay.state.ranks[0].step == 3


def test_a_forged_run_start_seen_first_gives_way_to_the_real_run(tmp_path):
    pipeline = SinkPipeline(tmp_path)
    stream = [(T0, run_start(**FORGED)), (T0 + 1, run_start(**REAL)), (T0 + 2, metrics(1, loss=2.0, **REAL))]
    assert shown_runs(pipeline, stream) == ["forged", "forged", "real"]


def test_a_large_refused_frame_is_written_as_an_event_but_its_bytes_are_not_recorded(tmp_path):
    recording = tmp_path / "stream.stratrec"
    pipeline = SinkPipeline(tmp_path / "logs", recorder=RecordingWriter(recording))
    pipeline.handle(b"\xc1" * (RECORDED_REFUSAL_BYTES + 1), T0)
    pipeline.handle(b"\xc1" * RECORDED_REFUSAL_BYTES, T0 + 1)
    pipeline.close()
    assert [len(record.frame) for record in RecordingReader(recording)] == [RECORDED_REFUSAL_BYTES]
    bad = [event for event in read_jsonl(tmp_path / "logs" / "events.jsonl") if event["event"] == "bad_frame"]
    assert [event["bytes"] for event in bad] == [RECORDED_REFUSAL_BYTES + 1, RECORDED_REFUSAL_BYTES]
