"""Output analysis on hand-built snapshots: accuracy trends, off-by-one labels, masked audio
EOS, collapsed predictions. Run: ./run-tests tests/sink/analysis/test_output.py"""

from __future__ import annotations

import numpy as np

from stratlog.sink.analysis.output import OutputAnalysis
from tests.sink import builders
from tests.sink.builders import CODEBOOKS, output_snapshot


def verdicts(message, analysis=None, interval=None) -> dict:
    findings = (analysis or OutputAnalysis()).evaluate(message, builders.context(capture_interval=interval))
    return {finding.check: finding for finding in findings}


def severities(found: dict) -> dict:
    return {check: finding.severity for check, finding in found.items()}


def test_a_healthy_output_is_ok_everywhere_and_its_first_accuracy_a_pending_baseline():
    assert severities(verdicts(output_snapshot())) == {
        "text_accuracy": "PENDING", "codebook_accuracy": "OK", "label_alignment": "OK", "audio_eos": "OK",
        "decoded_text": "OK"}


def test_accuracy_that_never_rises_is_pending_then_warns_at_step_30_at_every_interval():
    for interval in (5, 10, 20):
        analysis = OutputAnalysis()
        steps = [1] + list(range(interval, 41, interval))
        found = {step: verdicts(output_snapshot(text_accuracy=0.1, codebook_accuracy=0.001, step=step), analysis, interval)
                 for step in steps}
        judged_from = max(30, 2 * interval)  # at interval 20 the third capture (step 40) comes after step 30
        for step in steps:
            expected = "WARN" if step >= judged_from else "PENDING"
            assert found[step]["text_accuracy"].severity == expected, (interval, step)
            assert found[step]["codebook_accuracy"].severity == expected, (interval, step)
        assert f"pending until step {judged_from}" in found[1]["codebook_accuracy"].reason
        warn = found[judged_from]
        assert "not learning" in warn["text_accuracy"].reason
        assert f"codebooks {list(range(CODEBOOKS))} are still at chance" in warn["codebook_accuracy"].reason


def test_accuracy_that_rises_is_ok():
    analysis = OutputAnalysis()
    for step, accuracy in ((1, 0.1), (10, 0.2), (20, 0.3), (30, 0.3)):
        found = verdicts(output_snapshot(text_accuracy=accuracy, step=step), analysis)
    assert found["text_accuracy"].severity == "OK" and "up from 10.0%" in found["text_accuracy"].reason


def test_predictions_equal_to_the_next_label_are_off_by_one():
    labels = np.arange(100, 120)
    predictions = np.roll(labels, -1)  # each prediction is the following position's label
    found = verdicts(output_snapshot(labels=labels, predictions=predictions))
    assert found["label_alignment"].severity == "FAIL"
    assert "off by one" in found["label_alignment"].reason and "next position" in found["label_alignment"].reason


def test_a_match_mask_that_disagrees_is_a_capture_bug():
    message = output_snapshot()
    message.text_match = builders.Array.from_numpy(np.ones(20, dtype=bool))
    found = verdicts(message)
    assert found["label_alignment"].severity == "FAIL" and "capture bug" in found["label_alignment"].reason


def test_masked_audio_eos_fails():
    audio_labels = np.tile(np.arange(20), (CODEBOOKS, 1))
    found = verdicts(output_snapshot(audio_labels=audio_labels))
    assert found["audio_eos"].severity == "FAIL"
    assert "never learns to stop" in found["audio_eos"].reason and "1025" in found["audio_eos"].reason


def test_no_text_labels_fails():
    found = verdicts(output_snapshot(text_label_count=0))
    assert found["text_accuracy"].severity == "FAIL" and "every text label is masked" in found["text_accuracy"].reason


def test_collapsed_prediction_warns():
    labels = np.arange(100, 120)
    found = verdicts(output_snapshot(labels=labels, predictions=np.full(20, 7)))
    assert found["decoded_text"].severity == "WARN" and "collapsed" in found["decoded_text"].reason


def test_non_finite_codebook_loss_fails():
    found = verdicts(output_snapshot(codebook_losses=builders._float([float("nan")] + [1.0] * (CODEBOOKS - 1))))
    assert found["codebook_accuracy"].severity == "FAIL" and "codebooks [0]" in found["codebook_accuracy"].reason
