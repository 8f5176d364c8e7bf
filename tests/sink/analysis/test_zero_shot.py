"""Zero-shot verification on hand-built snapshots: effect above zero, trend, per speaker and
per language pair. Run: ./run-tests tests/sink/analysis/test_zero_shot.py"""

from __future__ import annotations

from sink.analysis.zero_shot import ZeroShotAnalysis
from tests.sink.builders import _float, zero_shot_snapshot


def verdicts(message, analysis=None) -> dict:
    return {finding.check: finding for finding in (analysis or ZeroShotAnalysis()).evaluate(message)}


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
