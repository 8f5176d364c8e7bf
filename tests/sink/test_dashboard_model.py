"""The dashboard's data model (no Textual): token regions by audio role, bounded histories,
views of a chosen or the latest step, findings grouped per panel, trends over captures, the
metrics checks' latest verdicts, rank 0 shown first.
Run: ./run-tests tests/sink/test_dashboard_model.py"""

from __future__ import annotations

import numpy as np
import pytest

from stratlog.protocol import Array
from stratlog.sink.dashboard_model import CAPTURE_STEPS, METRIC_POINTS, TREND_POINTS, DashboardModel
from stratlog.sink.findings import OK
from stratlog.sink.pipeline import SinkPipeline
from tests.sink.builders import (
    CODEBOOKS,
    attention_snapshot,
    input_snapshot,
    metrics,
    output_snapshot,
    run_start,
    zero_shot_snapshot,
)

T0 = 1_700_000_000.0


def model_fed(tmp_path, messages) -> tuple[DashboardModel, SinkPipeline]:
    from stratlog.protocol import encode

    pipeline = SinkPipeline(tmp_path)
    model = DashboardModel.attach(pipeline)
    for index, message in enumerate(messages):
        pipeline.handle(encode(message), T0 + index * 0.01)
    return model, pipeline


def test_input_is_cut_into_text_reference_and_target_regions(tmp_path):
    model, _ = model_fed(tmp_path, [run_start(), input_snapshot(step=10)])
    regions = model.view(now=T0).capture.readings["input"]
    assert [region.role for region in regions] == ["", "reference", "", "target", ""]


def test_histories_are_ring_buffers(tmp_path):
    steps = range(1, METRIC_POINTS + CAPTURE_STEPS + 10)
    messages = [run_start()] + [metrics(step, loss=1.0) for step in steps]
    messages += [attention_snapshot(step=step, seq=10_000 + step) for step in range(1, CAPTURE_STEPS + 6)]
    model, _ = model_fed(tmp_path, messages)
    history = model.ranks[0]
    assert len(history.metrics["loss"]) == METRIC_POINTS and history.metrics["loss"][-1][0] == steps[-1]
    assert list(history.captures) == list(range(6, CAPTURE_STEPS + 6)), "the oldest capture steps go first"


def test_view_shows_the_chosen_step_or_the_latest_with_its_findings(tmp_path):
    model, _ = model_fed(tmp_path, [run_start(), attention_snapshot(step=10, seq=1), attention_snapshot(step=20, seq=2)])
    latest, chosen = model.view(now=T0 + 5), model.view(step=10, now=T0 + 5)
    assert latest.following and latest.shown_step == 20 and latest.capture_steps == (10, 20)
    assert not chosen.following and chosen.shown_step == 10
    assert {f.check for f in chosen.panels["attention"]} >= {"dead_heads", "dual_ffn_gradient"}
    assert {f.check for f in latest.panels["stream"]} == {"run_start"}
    assert 4.9 < latest.last_message_age_s < 5.0
    assert model.view(step=15, now=T0).shown_step == 20, "a step without a capture shows the latest"


def test_a_step_sent_again_replaces_its_verdicts_instead_of_adding_to_them(tmp_path):
    """A rank resumed from a checkpoint (or a client replaying frames) sends a captured step again:
    the capture shows each check once, with the latest verdict, and does not grow."""
    dead = np.full((2, 4), 0.01)  # every head's max weight near 0: a dead-heads verdict that is not OK
    resent = [attention_snapshot(step=10, seq=seq, max_weight=Array.from_numpy(
        (dead if seq % 2 else dead + 0.6).astype(np.float16))) for seq in range(1, 41)]
    model, _ = model_fed(tmp_path, [run_start(), *resent])
    found = model.ranks[0].captures[10].findings["attention"]
    checks = [finding.check for finding in model.view(now=T0).panels["attention"]]
    assert len(checks) == len(set(checks)) == len(found), "each check once"
    assert found["dead_heads"].severity == OK, "the last one sent (seq 40: healthy heads) is shown"
    assert len(model_fed(tmp_path / "once", [run_start(), resent[-1]])[0].ranks[0].captures[10].findings["attention"]) \
        == len(found), "as many findings as one capture of the step has"


def test_a_second_run_to_start_is_shown_alone_and_the_first_keeps_only_its_logs(tmp_path):
    messages = [run_start(run_id="first"), input_snapshot(step=10, run_id="first"),
                run_start(run_id="second"), input_snapshot(step=20, run_id="second", seq=1),
                input_snapshot(step=30, run_id="first", seq=2)]
    model, pipeline = model_fed(tmp_path, messages)
    view = model.view(now=T0)
    assert view.run_id == "second" and list(model.ranks[0].captures) == [20]
    assert {f.run_id for f in view.recent_findings} <= {None, "second"}
    pipeline.close()
    logged = {line.split('"run_id": "')[1].split('"')[0] for line in (tmp_path / "findings.jsonl").read_text().splitlines()}
    assert logged == {"first", "second"}


def test_trends_keep_each_capture_of_codebook_loss_accuracy_and_the_conditioning_effect(tmp_path):
    messages = [run_start()]
    for index, step in enumerate(range(5, 5 * (TREND_POINTS + 3), 5)):
        messages += [output_snapshot(codebook_accuracy=0.01 * (index % 50), step=step, seq=2 * index + 1),
                     zero_shot_snapshot(effect=0.001 * index, step=step, seq=2 * index + 2)]
    model, _ = model_fed(tmp_path, messages)
    trends = model.view(now=T0).trends
    assert all(len(points) == TREND_POINTS for points in trends.values()), "bounded however long the run"
    step, accuracies = trends["codebook_accuracy"][-1]
    assert step == 5 * (TREND_POINTS + 2) and len(accuracies) == CODEBOOKS
    assert accuracies[0] == pytest.approx(0.01 * ((TREND_POINTS + 1) % 50))
    assert trends["codebook_loss"][-1][1] == pytest.approx((5.0,) * CODEBOOKS)
    assert trends["conditioning_effect"][-1] == (step, pytest.approx((0.001 * (TREND_POINTS + 1),)))


def test_a_skipped_zero_shot_capture_adds_no_point_to_the_effect_trend(tmp_path):
    model, _ = model_fed(tmp_path, [run_start(), zero_shot_snapshot(effect=float("nan"), step=10, seq=1)])
    assert model.view(now=T0).trends["conditioning_effect"] == ()


def test_each_metrics_check_shows_its_latest_evaluation_not_its_last_change(tmp_path):
    """Warmup is 5 steps (builders.TRAINING_ARGS): step 1's "during warmup" must not stay on screen."""
    model, _ = model_fed(tmp_path, [run_start()] + [metrics(step, loss=3.0, learning_rate=1e-3) for step in range(1, 31)])
    shown = {finding.check: finding for finding in model.view(now=T0).panels["stream"]}
    assert shown["learning_rate"].step == 30 and shown["learning_rate"].reason.startswith("step 30: ")
    assert shown["loss_finite"].step == 30 and shown["run_start"].check == "run_start"
    assert [finding.check for finding in model.view(now=T0).panels["stream"]].count("learning_rate") == 1


def test_rank_0_is_shown_first_even_when_another_rank_started_first(tmp_path):
    model, _ = model_fed(tmp_path, [run_start(rank=1), input_snapshot(rank=1, step=10, seq=1), run_start(rank=0),
                                    input_snapshot(rank=0, step=10, seq=1)])
    assert model.view(now=T0).rank == 0


def test_sim_scores_become_points_of_the_sim_trend_only_where_the_sink_decodes_audio(tmp_path):
    """The audio decoder's rows (sink.audio_clips) arrive after their capture: each is a point of
    the rank's SIM trend, SIM(reference, prediction) beside its ceiling, drawn as two named lines;
    a sink without --audio-tokenizer has no SIM trend at all."""
    from stratlog.sink.dashboard_model import SIM_TREND, TRENDS
    from stratlog.tui.widgets.overview.step_charts import LinesOverSteps

    for audio in (True, False):
        pipeline = SinkPipeline(tmp_path / str(audio))
        model = DashboardModel(pipeline.state, pipeline.contexts, audio_files=audio)
        pipeline.handle_message(run_start(), T0)
        pipeline.handle_message(zero_shot_snapshot(step=10, seq=1), T0)
        for step, predicted in ((10, 0.61), (20, 0.72)):
            pipeline.state.record_sim_scores({"run_id": "run", "step": step, "rank": 0, "sample": 0, "speaker": "spk00",
                                              "sim_reference_predicted": predicted, "sim_reference_target": 0.88})
        pipeline.state.record_sim_scores({"run_id": "run", "step": 30, "rank": 0, "sim_reference_predicted": 0.7})
        trends = model.view(now=T0).trends
        assert model.trends == ((*TRENDS, SIM_TREND) if audio else TRENDS)
        if not audio:
            assert "sim" not in trends
            continue
        assert trends["sim"] == ((10, (0.61, 0.88)), (20, (0.72, 0.88)))
        drawn = [line.plain for line in LinesOverSteps(SIM_TREND.title, trends["sim"], SIM_TREND.line_label,
                                                       higher_is_better=True).lines(60, 6)]
        assert drawn[1].lstrip().startswith("predicted") and drawn[1].endswith("0.72")
        assert drawn[2].lstrip().startswith("target") and drawn[2].endswith("0.88")
