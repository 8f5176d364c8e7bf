"""Zero-shot verification on hand-built snapshots: effect above zero, trend, per speaker and
per language pair. Run: ./run-tests tests/sink/analysis/test_zero_shot.py"""

from __future__ import annotations

from stratlog.sink.analysis.zero_shot import ZeroShotAnalysis, effect_rows
from stratlog.sink.thresholds import REFERENCE_IGNORED_AFTER_CAPTURES
from tests.sink import builders
from tests.sink.builders import _float, zero_shot_snapshot


def verdicts(message, analysis=None) -> dict:
    return {finding.check: finding for finding in (analysis or ZeroShotAnalysis()).evaluate(message, builders.context())}


def test_a_clear_conditioning_effect_is_ok():
    found = verdicts(zero_shot_snapshot(effect=0.3))
    assert {c: f.severity for c, f in found.items()} == {
        "conditioning_effect": "OK", "per_speaker": "OK", "per_language_pair": "OK"}
    assert found["per_speaker"].value == {"spk00": 0.3, "spk01": 0.3, "spk02": 0.3, "spk03": 0.3}


def test_no_effect_warns_and_names_the_cause():
    found = verdicts(zero_shot_snapshot(effect=0.0))
    assert found["conditioning_effect"].severity == "WARN"
    assert "ignores the reference voice" in found["conditioning_effect"].reason


def test_a_consistently_negative_effect_fails_as_mispaired_data():
    analysis = ZeroShotAnalysis()
    for step in (1, 10, 20):
        found = verdicts(zero_shot_snapshot(effect=-0.2, step=step), analysis)
    assert found["conditioning_effect"].severity == "FAIL" and "mispaired" in found["conditioning_effect"].reason


def run_captures(effects: list[float], true_losses: list[float]) -> list[dict]:
    analysis = ZeroShotAnalysis()
    return [verdicts(zero_shot_snapshot(effect=effect, true_loss=loss, step=1 + 10 * i), analysis)
            for i, (effect, loss) in enumerate(zip(effects, true_losses))]


def test_a_reference_that_never_helps_a_learning_model_fails_from_the_stated_capture():
    captures = REFERENCE_IGNORED_AFTER_CAPTURES
    learning = [7.0 - 3.5 * i / captures for i in range(captures + 1)]  # half the loss gone by the end
    found = run_captures([0.002] * (captures + 1), learning)
    severities = [f["conditioning_effect"].severity for f in found]
    assert severities[: captures - 1] == ["WARN"] * (captures - 1)
    assert severities[captures - 1 :] == ["FAIL", "FAIL"]
    fail = found[captures - 1]["conditioning_effect"]
    assert "ignores the reference" in fail.reason and "silence" in fail.reason
    assert fail.value == 0.002


def test_no_effect_without_audio_learning_is_not_blamed_on_the_reference():
    captures = REFERENCE_IGNORED_AFTER_CAPTURES
    found = run_captures([0.0] * (captures + 2), [7.0 - 0.01 * i for i in range(captures + 2)])
    assert {f["conditioning_effect"].severity for f in found} == {"WARN"}


def test_an_effect_that_emerged_in_the_latest_captures_passes():
    captures = REFERENCE_IGNORED_AFTER_CAPTURES
    effects = [0.0] * (captures - 3) + [0.03, 0.04, 0.05]  # the mean of the latest 5 is 0.024
    found = run_captures(effects, [7.0 - 0.2 * i for i in range(captures)])
    assert found[-1]["conditioning_effect"].severity == "OK"
    assert "FAIL" not in {f["conditioning_effect"].severity for f in found}


def test_a_falling_effect_warns_in_the_trend():
    analysis = ZeroShotAnalysis()
    for step, effect in ((1, 0.5), (10, 0.3), (20, 0.1)):
        found = verdicts(zero_shot_snapshot(effect=effect, step=step), analysis)
    assert found["conditioning_trend"].severity == "WARN" and "learning to ignore" in found["conditioning_trend"].reason
    assert found["conditioning_effect"].severity == "OK"


def test_one_speaker_and_its_language_pair_without_effect_warn():
    found = verdicts(zero_shot_snapshot(effect=[0.3, 0.3, 0.3, -0.1]))
    assert found["per_speaker"].severity == "WARN" and "spk03 (-0.100)" in found["per_speaker"].reason
    assert found["per_language_pair"].severity == "WARN" and "es->en (-0.100)" in found["per_language_pair"].reason


def test_a_skipped_measurement_warns_with_its_reason():
    message = zero_shot_snapshot(skipped_reason="every sample has the same speaker", sample_ids=[], speakers=[],
                                 swapped_speakers=[], languages=[], swapped_languages=[],
                                 true_reference_loss=_float([]), swapped_reference_loss=_float([]))
    found = verdicts(message)
    assert found["conditioning_effect"].severity == "WARN" and "same speaker" in found["conditioning_effect"].reason


def test_each_row_carries_its_effect_and_verdict_for_the_dashboard():
    rows = effect_rows(zero_shot_snapshot(effect=[0.3, 0.0, -0.2, float("nan")]), builders.context())
    assert [severity for _, severity in rows] == ["OK", "WARN", "FAIL", "WARN"]
    assert round(rows[0].effect, 3) == 0.3
