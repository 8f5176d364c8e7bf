"""Zero-shot verification on hand-built snapshots: effect above zero, trend, per speaker and
per language pair. Run: ./run-tests tests/sink/analysis/test_zero_shot.py"""

from __future__ import annotations

import pytest

from stratlog.sink.analysis.zero_shot import ZeroShotAnalysis, effect_rows
from stratlog.sink.thresholds import GROUP_MEASUREMENTS, REFERENCE_GRACE_STEPS
from tests.sink import builders
from tests.sink.builders import _float, zero_shot_snapshot


def verdicts(message, analysis=None, interval=None) -> dict:
    context = builders.context(capture_interval=interval)
    return {finding.check: finding for finding in (analysis or ZeroShotAnalysis()).evaluate(message, context)}


def test_a_clear_conditioning_effect_is_ok():
    found = verdicts(zero_shot_snapshot(effect=0.3))
    assert {c: f.severity for c, f in found.items()} == {
        "conditioning_effect": "OK", "per_speaker": "OK", "per_language_pair": "OK"}
    assert found["per_speaker"].value == {"spk00": 0.3, "spk01": 0.3, "spk02": 0.3, "spk03": 0.3}


def test_no_effect_is_pending_during_the_grace_and_says_until_when():
    found = verdicts(zero_shot_snapshot(effect=0.0, step=1))
    for check in ("conditioning_effect", "per_speaker", "per_language_pair"):
        assert found[check].severity == "PENDING", check
        assert f"pending until step {REFERENCE_GRACE_STEPS}" in found[check].reason


def test_a_consistently_negative_effect_fails_as_mispaired_data():
    analysis = ZeroShotAnalysis()
    for step in (1, 10, 20, 30):
        found = verdicts(zero_shot_snapshot(effect=-0.2, step=step), analysis)
    assert found["conditioning_effect"].severity == "FAIL" and "mispaired" in found["conditioning_effect"].reason


def capture_steps(interval: int, last: int) -> list[int]:
    return [1] + list(range(interval, last + 1, interval))


def run_captures(effects, true_losses, interval: int = 10) -> list[dict]:
    """One snapshot per capture step (1, interval, 2 x interval, ...); effects and losses per capture."""
    analysis = ZeroShotAnalysis()
    steps = capture_steps(interval, interval * (len(effects) - 1))
    return [verdicts(zero_shot_snapshot(effect=effect, true_loss=loss, step=step), analysis, interval)
            for step, effect, loss in zip(steps, effects, true_losses)]


@pytest.mark.parametrize("interval", [5, 10, 20])
def test_a_reference_that_never_helps_a_learning_model_fails_at_the_same_step_at_every_interval(interval):
    steps = capture_steps(interval, 300)
    learning = [7.0 - 0.02 * step for step in steps]  # 40 % of the loss gone by step 140
    found = run_captures([[0.004, -0.001, 0.0, 0.005]] * len(steps), learning, interval)  # a silent reference's noise
    severities = {step: f["conditioning_effect"].severity for step, f in zip(steps, found)}
    first_fail = min(step for step, severity in severities.items() if severity == "FAIL")
    assert first_fail == REFERENCE_GRACE_STEPS
    assert {severity for step, severity in severities.items() if step < first_fail} == {"PENDING"}
    assert {severity for step, severity in severities.items() if step >= first_fail} == {"FAIL"}
    fail = found[steps.index(first_fail)]["conditioning_effect"]
    assert "ignores the reference" in fail.reason and "silence" in fail.reason
    assert fail.value == 0.002


@pytest.mark.parametrize("interval", [5, 10, 20])
def test_a_healthy_effect_that_emerges_before_the_grace_ends_never_fails(interval):
    """The demo's shape: nothing until step ~70, then an effect that grows: no FAIL at any interval
    (issue 18: at interval 5 the grace counted in captures ended at step 70)."""
    steps = capture_steps(interval, 200)
    effects = [0.0 if step < 80 else 0.005 + 0.0005 * (step - 80) for step in steps]
    found = run_captures(effects, [7.0 - 0.02 * step for step in steps], interval)
    severities = [f["conditioning_effect"].severity for f in found]
    assert "FAIL" not in severities and "WARN" not in severities, severities
    assert severities[-1] == "OK"


def test_an_effect_that_dips_after_it_was_shown_is_not_an_ignored_reference():
    """espeak-ng speech's shape: above 0.01 for a while, then a window mean of 0.0099 at step 210."""
    steps = capture_steps(10, 260)
    effects = [0.0 if step < 120 else (0.03 if step < 180 else 0.005) for step in steps]
    found = run_captures(effects, [7.0 - 0.02 * step for step in steps])
    late = {step: f["conditioning_effect"] for step, f in zip(steps, found) if step >= REFERENCE_GRACE_STEPS}
    assert {f.severity for f in late.values()} == {"OK"}
    assert "up to step" in late[260].reason and "reaches the model" in late[260].reason


def test_one_ranks_shown_effect_clears_another_rank_of_the_same_run():
    """The ranks train one model: rank 1 above 0.01 means the reference reaches it, whatever rank 0's
    samples show (espeak-ng speech: rank 0 at 0.004 at step 200, rank 1 at 0.017)."""
    analysis = ZeroShotAnalysis()
    steps = capture_steps(10, 200)
    found = {}
    for step in steps:
        loss = 7.0 - 0.02 * step
        for rank, effect in ((0, 0.004), (1, 0.0 if step < 150 else 0.02)):
            message = zero_shot_snapshot(effect=[effect + 0.001, effect - 0.001, effect, effect], true_loss=loss,
                                         step=step, rank=rank)
            found[(rank, step)] = verdicts(message, analysis, 10)["conditioning_effect"]
    assert found[(0, 200)].severity == "OK" and "on rank 1" in found[(0, 200)].reason
    other_run = ZeroShotAnalysis()
    for step in steps:
        alone = verdicts(zero_shot_snapshot(effect=0.004, true_loss=7.0 - 0.02 * step, step=step), other_run, 10)
    assert alone["conditioning_effect"].severity == "FAIL", "the same rank without the other one's effect"


def test_no_effect_without_audio_learning_is_a_warn_not_blamed_on_the_reference():
    captures = REFERENCE_GRACE_STEPS // 10 + 3
    found = run_captures([0.0] * captures, [7.0 - 0.01 * i for i in range(captures)])
    severities = [f["conditioning_effect"].severity for f in found]
    assert set(severities[: REFERENCE_GRACE_STEPS // 10]) == {"PENDING"}
    assert set(severities[REFERENCE_GRACE_STEPS // 10:]) == {"WARN"}
    assert "learns neither the audio nor the voice" in found[-1]["conditioning_effect"].reason


def test_an_effect_that_emerged_in_the_latest_captures_passes():
    captures = REFERENCE_GRACE_STEPS // 10 + 1
    effects = [0.0] * (captures - 3) + [0.03, 0.04, 0.05]  # the mean of the latest 5 is 0.024
    found = run_captures(effects, [7.0 - 0.2 * i for i in range(captures)])
    assert found[-1]["conditioning_effect"].severity == "OK"
    assert "FAIL" not in {f["conditioning_effect"].severity for f in found}


def test_a_falling_effect_warns_in_the_trend():
    analysis = ZeroShotAnalysis()
    for step, effect in ((1, 0.5), (10, 0.4), (20, 0.3), (30, 0.1)):
        found = verdicts(zero_shot_snapshot(effect=effect, step=step), analysis)
    assert found["conditioning_trend"].severity == "WARN" and "learning to ignore" in found["conditioning_trend"].reason
    assert found["conditioning_effect"].severity == "OK"


def test_the_trend_is_pending_until_its_grace_in_steps():
    analysis = ZeroShotAnalysis()
    found = [verdicts(zero_shot_snapshot(effect=effect, step=step), analysis, 10)
             for step, effect in ((1, 0.5), (10, 0.3), (20, 0.1))]
    assert all("conditioning_trend" not in f for f in found)


def test_one_speaker_and_its_language_pair_without_effect_warn_after_the_grace_and_enough_samples():
    """spk03 (the batch's last row, pair es->en) is measured once per capture: from step 200 (the
    grace) it needs GROUP_MEASUREMENTS samples, so it is judged at step 200 + 10 x (10 - 1) = 290."""
    analysis = ZeroShotAnalysis()
    by_step = {step: verdicts(zero_shot_snapshot(effect=[0.3, 0.3, 0.3, -0.1], step=step), analysis, 10)
               for step in capture_steps(10, 290)}
    judged_at = REFERENCE_GRACE_STEPS + 10 * (GROUP_MEASUREMENTS - 1)
    for check, name in (("per_speaker", "spk03"), ("per_language_pair", "es->en")):
        assert {by_step[step][check].severity for step in by_step if step < judged_at} == {"PENDING"}
        assert f"pending until step {REFERENCE_GRACE_STEPS}" in by_step[130][check].reason
        assert f"{GROUP_MEASUREMENTS} samples each from then" in by_step[280][check].reason
        warn = by_step[judged_at][check]
        assert warn.severity == "WARN" and f"{name} (-0.100, n=10)" in warn.reason, warn.reason
        assert "in this batch" in warn.reason and "all ranks" in warn.reason


def test_a_skipped_measurement_warns_with_its_reason():
    message = zero_shot_snapshot(skipped_reason="every sample has the same speaker", sample_ids=[], speakers=[],
                                 swapped_speakers=[], languages=[], swapped_languages=[],
                                 true_reference_loss=_float([]), swapped_reference_loss=_float([]))
    found = verdicts(message)
    assert found["conditioning_effect"].severity == "WARN" and "same speaker" in found["conditioning_effect"].reason


def test_each_row_carries_its_effect_and_verdict_for_the_dashboard():
    rows = effect_rows(zero_shot_snapshot(effect=[0.3, 0.0, -0.2, float("nan")], step=200), builders.context())
    assert [severity for _, severity in rows] == ["OK", "WARN", "FAIL", "WARN"]
    early = effect_rows(zero_shot_snapshot(effect=[0.3, 0.0, -0.2, float("nan")], step=10), builders.context(10))
    assert [severity for _, severity in early] == ["OK", "PENDING", "FAIL", "PENDING"], "as the rank's verdict then"
    assert round(rows[0].effect, 3) == 0.3
