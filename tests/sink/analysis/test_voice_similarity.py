"""The SIM trend check (issue 20): the decoded prediction's speaker similarity to the reference,
judged against the ceiling SIM(reference, target) over the run's captures, PENDING during the
reference grace, never a WARN for flat SIM at the ceiling or where the ceiling cannot separate voices.
Run: python -m pytest tests/sink/analysis/test_voice_similarity.py -q"""

from __future__ import annotations

from stratlog.sink.analysis.zero_shot import ZeroShotAnalysis
from stratlog.sink.thresholds import REFERENCE_GRACE_STEPS, SIM_WINDOW
from tests.sink import builders
from tests.sink.builders import zero_shot_snapshot

STEPS = [1] + list(range(10, 301, 10))


def sim_verdicts(predicted, ceiling, effect: float = 0.05) -> dict[int, object]:
    """Step -> the sim_trend finding of that capture; `predicted`, `ceiling`: step -> SIM."""
    analysis, context = ZeroShotAnalysis(), builders.context(capture_interval=10)
    found = {}
    for step in STEPS:
        analysis.evaluate(zero_shot_snapshot(effect=effect, step=step), context)
        row = {"run_id": "run", "step": step, "rank": 0, "sample": 0, "speaker": "spk00",
               "sim_reference_predicted": predicted(step), "sim_reference_target": ceiling(step)}
        [finding] = analysis.evaluate_sim(row, context)
        assert (finding.analysis, finding.check, finding.step, finding.rank) == ("zero_shot", "sim_trend", step, 0)
        found[step] = finding
    return found


def severities(found) -> dict[str, set[int]]:
    by = {}
    for step, finding in found.items():
        by.setdefault(finding.severity, set()).add(step)
    return by


def test_a_prediction_that_never_takes_the_voice_warns_after_the_grace_only():
    found = sim_verdicts(lambda step: 0.6, lambda step: 0.88)  # another speaker's voice throughout
    by = severities(found)
    assert by["PENDING"] == {step for step in STEPS if step < REFERENCE_GRACE_STEPS}
    assert by["WARN"] == {step for step in STEPS if step >= REFERENCE_GRACE_STEPS}
    warn = found[REFERENCE_GRACE_STEPS]
    assert warn.value["gap"] == 0.28 and warn.value["first_gap"] == 0.28
    assert "conditioning effect 0.050 nats" in warn.reason  # said beside the conditioning effect
    assert f"pending until step {REFERENCE_GRACE_STEPS}" in found[10].reason


def test_a_prediction_that_rises_toward_the_ceiling_is_ok():
    found = sim_verdicts(lambda step: min(0.55 + step / 1000, 0.75), lambda step: 0.88)  # gap 0.33 -> 0.13
    assert {finding.severity for step, finding in found.items() if step >= REFERENCE_GRACE_STEPS} == {"OK"}


def test_flat_sim_at_the_ceiling_is_ok_and_a_ceiling_that_separates_no_voices_judges_nothing():
    at_ceiling = sim_verdicts(lambda step: 0.999, lambda step: 1.0)  # the demo's tiny codec: everything alike
    assert {f.severity for s, f in at_ceiling.items() if s >= REFERENCE_GRACE_STEPS} == {"OK"}
    low_ceiling = sim_verdicts(lambda step: 0.4, lambda step: 0.6)
    late = [f for s, f in low_ceiling.items() if s >= REFERENCE_GRACE_STEPS]
    assert {f.severity for f in late} == {"OK"} and all("cannot judge" in f.reason for f in late)


def test_too_few_scored_captures_stay_pending_after_the_grace():
    """Captures the decoder dropped (it fell behind) leave too few to judge; a row without the
    ceiling (no target codes) is not judged at all."""
    analysis, context = ZeroShotAnalysis(), builders.context(capture_interval=10)
    rows = [{"run_id": "run", "step": step, "rank": 0, "sim_reference_predicted": 0.5, "sim_reference_target": 0.9}
            for step in [1, *range(REFERENCE_GRACE_STEPS, REFERENCE_GRACE_STEPS + 10 * (2 * SIM_WINDOW - 2), 10)]]
    findings = [finding for row in rows for finding in analysis.evaluate_sim(row, context)]
    assert {finding.severity for finding in findings} == {"PENDING"}
    assert f"{2 * SIM_WINDOW} scored captures" in findings[-1].reason
    assert analysis.evaluate_sim({"run_id": "run", "step": 300, "rank": 0, "sim_reference_predicted": 0.5}, context) == []
