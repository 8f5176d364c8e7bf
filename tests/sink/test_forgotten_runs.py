"""A sink keeps at most RUNS_KEPT runs in memory: a long-lived sink that sees experiment after
experiment, or a client inventing run ids, must not grow without bound. The run heard from least
recently goes first, never the one shown; every holder of per-run state lets it go; a forgotten
run that speaks again is taken up where it is. Run: ./run-tests tests/sink/test_forgotten_runs.py"""

from __future__ import annotations

import gc
import tracemalloc

from stratlog.protocol import Metrics, encode
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.state import RUNS_KEPT
from tests.processes import read_jsonl
from tests.sink.builders import attention_snapshot, envelope, output_snapshot, run_start, zero_shot_snapshot

T0 = 1_700_000_000.0


def one_run(run_id: str, step: int, seq: int = 0) -> list:
    """What a small run sends: its start, metrics and a capture of three snapshot kinds."""
    head = {"run_id": run_id, "step": step}
    return [run_start(run_id=run_id, seq=seq),
            Metrics(**envelope(**head, seq=seq + 1), values={"loss": 2.0, "learning_rate": 1e-3, "grad_norm": 1.0}),
            output_snapshot(**head, seq=seq + 2), attention_snapshot(**head, seq=seq + 3),
            zero_shot_snapshot(**head, seq=seq + 4)]


class Feed:
    def __init__(self, log_dir):
        self.pipeline = SinkPipeline(log_dir)
        self.model = DashboardModel.attach(self.pipeline)
        self.now = T0

    def send(self, messages) -> None:
        for message in messages:
            self.now += 0.01
            self.pipeline.handle(encode(message), self.now)


def runs_held(feed: Feed) -> dict[str, set[str]]:
    """Every run id each holder of per-run state still has."""
    pipeline = feed.pipeline
    analyses = pipeline._analyses
    return {
        "state": set(pipeline.state.runs),
        "contexts": set(pipeline.contexts),
        "metrics": {run for run, _ in pipeline.metrics_health._verdicts},
        "summary": {key[0] for key in pipeline.summary._current},
        "dashboard": set(feed.model.histories),
        "output series": {key[0] for key in analyses["output"]._history._series},
        "zero-shot groups": {key[0] for key in analyses["zero_shot"]._groups},
    }


def test_the_least_recently_heard_run_is_forgotten_everywhere(tmp_path):
    feed = Feed(tmp_path)
    feed.send(one_run("watched", step=10))
    invented = [f"invented-{number}" for number in range(3 * RUNS_KEPT)]
    for number, run_id in enumerate(invented):
        feed.send(one_run(run_id, step=10))
        if number % 10 == 0:  # a run still training: heard from less often than runs appear, but heard
            feed.send([Metrics(**envelope(run_id="watched", step=11 + number, seq=5 + number), values={"loss": 2.0})])
    kept = set(invented[-(RUNS_KEPT - 1):]) | {"watched"}
    held = runs_held(feed)
    assert held["state"] == kept, "the newest runs and the one still heard from"
    assert all(runs <= kept for runs in held.values()), held
    assert feed.model.histories["watched"][0].captures, "a kept run keeps its history"
    feed.pipeline.close()
    events = read_jsonl(tmp_path / "events.jsonl")
    named = [event for event in events if event["event"] == "run_forgotten"]
    unwritten = sum(event["count"] for event in events if event["event"] == "runs_forgotten_unwritten")
    assert named[0]["run_id"] == "invented-0" and named[0]["runs_kept"] == RUNS_KEPT
    assert len(named) + unwritten == len(invented) - (RUNS_KEPT - 1), "every forgotten run is counted"
    assert len(named) <= 10, "the first few a minute are named, so invented ids cannot fill the disk"


def test_the_run_shown_is_never_forgotten_however_long_it_is_quiet(tmp_path):
    feed = Feed(tmp_path)
    feed.send(one_run("watched", step=10))
    feed.send([run_start(run_id=f"started-{number}") for number in range(2 * RUNS_KEPT)])  # a start takes no view over
    assert feed.pipeline.state.run_id == "watched" and "watched" in feed.pipeline.state.runs
    assert feed.model.ranks[0].captures and len(feed.pipeline.state.runs) == RUNS_KEPT
    feed.pipeline.close()


def test_a_forgotten_run_that_speaks_again_is_taken_up_where_it_is(tmp_path):
    feed = Feed(tmp_path)
    feed.send(one_run("watched", step=10))
    feed.send(one_run("early", step=10))
    for number in range(RUNS_KEPT):
        feed.send(one_run(f"later-{number}", step=10))
    assert "early" not in feed.pipeline.state.runs
    feed.send([Metrics(**envelope(run_id="early", step=11, seq=40), values={"loss": 2.0})])
    rank = feed.pipeline.state.runs["early"][0]
    assert (rank.gaps, rank.first_seq, rank.next_seq) == (0, 40, 41), "not charged with the 40 it sent before"
    feed.pipeline.close()
    gaps = [f for f in read_jsonl(tmp_path / "findings.jsonl") if f["check"] == "sequence_gaps" and f["run_id"] == "early"]
    assert gaps == []


def test_memory_levels_off_however_many_run_ids_a_client_invents(tmp_path):
    feed = Feed(tmp_path)
    feed.send(one_run("watched", step=10))
    tracemalloc.start()
    try:
        samples = []
        for quarter in range(4):
            for number in range(200):
                feed.send(one_run(f"invented-{quarter}-{number}", step=10))
            gc.collect()
            samples.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    feed.pipeline.close()
    growth = samples[3] - samples[1]
    assert growth < 0.1 * samples[1], f"traced memory by quarter {[round(s / 2**20, 2) for s in samples]} MiB"
