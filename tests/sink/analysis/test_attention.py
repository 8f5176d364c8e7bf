"""Shared attention / DualFFN analysis on hand-built snapshots.
Run: ./run-tests tests/sink/analysis/test_attention.py"""

from __future__ import annotations

import math

import numpy as np

from stratlog.protocol import TensorInfo
from stratlog.sink.analysis.attention import AttentionAnalysis, ffn_table_verdicts
from tests.sink import builders
from tests.sink.builders import _float, attention_snapshot, input_snapshot

SEQUENCE = 200
UNIFORM_ENTROPY = math.lgamma(SEQUENCE + 1) / SEQUENCE


def context_of(message, sequence_length=SEQUENCE, warmup_steps=0):
    """The run's context after the same step's input snapshot (padded to `sequence_length`; None: no input)."""
    context = builders.context()
    context.training_args["warmup_steps"] = warmup_steps
    if sequence_length is not None:
        shape = [2, sequence_length]
        context.remember(input_snapshot(step=message.step, tensors=[TensorInfo(name="input_ids", shape=shape, dtype="int64")]))
    return context


def verdicts(message, sequence_length=SEQUENCE, warmup_steps=0) -> dict:
    findings = AttentionAnalysis().evaluate(message, context_of(message, sequence_length, warmup_steps))
    return {finding.check: finding for finding in findings}


def test_healthy_attention_is_ok_everywhere():
    assert {c: f.severity for c, f in verdicts(attention_snapshot()).items()} == {
        "text_audio_mass": "OK", "reference_attention": "OK", "dead_heads": "OK", "uniform_heads": "OK",
        "dual_ffn_gradient": "OK", "dual_ffn_update": "OK"}


def test_audio_that_ignores_text_warns():
    found = verdicts(attention_snapshot(audio_to_text=_float(np.full((2, 4), 0.001))))
    assert found["text_audio_mass"].severity == "WARN"
    assert "audio queries put 0.10% on text" in found["text_audio_mass"].reason


def test_target_that_ignores_the_reference_warns():
    found = verdicts(attention_snapshot(target_to_reference=_float(np.zeros((2, 4)))))
    assert found["reference_attention"].severity == "WARN" and "cannot copy the voice" in found["reference_attention"].reason


def test_dead_heads_fail_and_are_named():
    max_weight = np.full((2, 4), 0.6)
    max_weight[1, 2] = 0.0
    entropy = np.ones((2, 4))
    entropy[0, 3] = np.nan
    found = verdicts(attention_snapshot(max_weight=_float(max_weight), entropy=_float(entropy)))
    assert found["dead_heads"].severity == "FAIL"
    assert "2 of 8 sampled heads are dead" in found["dead_heads"].reason and "L0H3, L1H2" in found["dead_heads"].reason


def uniform_heads_over(shares: dict[int, int], interval: int = 10) -> dict[int, object]:
    """Step -> the uniform_heads finding of one rank whose captures have that many of 8 heads uniform."""
    analysis, found = AttentionAnalysis(), {}
    for step, uniform in shares.items():
        entropy = np.where(np.arange(8) < uniform, UNIFORM_ENTROPY, 1.0).reshape(2, 4)
        message = attention_snapshot(step=step, entropy=_float(entropy))
        context = context_of(message)
        context.capture_interval = interval
        found[step] = {f.check: f for f in analysis.evaluate(message, context)}["uniform_heads"]
    return found


def test_heads_that_stay_uniform_warn_after_their_grace():
    found = uniform_heads_over({1: 8, 10: 8, 20: 8, 30: 8, 40: 8, 50: 7, 60: 8})
    assert {found[step].severity for step in (1, 10, 20, 30, 40, 50)} == {"PENDING"}
    assert "pending until step 60" in found[1].reason
    assert found[60].severity == "WARN" and "8 of 8" in found[60].reason and "not become selective" in found[60].reason


def test_heads_that_became_selective_pass_though_half_stay_broad():
    """The healthy demo's shape: all uniform at first, about half from step 40 on."""
    found = uniform_heads_over({1: 8, 10: 8, 20: 8, 30: 7, 40: 4, 50: 5, 60: 4, 70: 5, 80: 4})
    assert {found[step].severity for step in (60, 70, 80)} == {"OK"}


def test_the_uniform_heads_grace_is_the_same_step_at_intervals_5_10_and_20():
    for interval in (5, 10, 20):
        steps = [1] + list(range(interval, 81, interval))
        found = uniform_heads_over(dict.fromkeys(steps, 8), interval)
        first_warn = min(step for step, finding in found.items() if finding.severity == "WARN")
        assert first_warn == 60, interval


def test_uniform_heads_are_not_judged_without_a_sequence_length():
    found = verdicts(attention_snapshot(), sequence_length=None)
    assert found["uniform_heads"].severity == "OK" and "not judged" in found["uniform_heads"].reason


def test_an_audio_ffn_without_gradient_fails():
    found = verdicts(attention_snapshot(audio_ffn_grad_norm=_float([0.7, 0.0])))
    assert found["dual_ffn_gradient"].severity == "FAIL"
    assert "the audio FFN of layers [1] got no gradient" in found["dual_ffn_gradient"].reason


def test_a_frozen_text_ffn_fails_and_a_runaway_update_warns():
    frozen = verdicts(attention_snapshot(text_ffn_update_ratio=_float([0.0, 0.0])))
    assert frozen["dual_ffn_update"].severity == "FAIL"
    assert "the text FFN of layers [0, 1] did not change" in frozen["dual_ffn_update"].reason
    first_warmup_step = verdicts(attention_snapshot(step=1, text_ffn_update_ratio=_float([0.0, 0.0])), warmup_steps=5)
    assert first_warmup_step["dual_ffn_update"].severity == "OK" and "warmup" in first_warmup_step["dual_ffn_update"].reason
    runaway = verdicts(attention_snapshot(step=30, audio_ffn_update_ratio=_float([0.5, 0.001])))
    assert runaway["dual_ffn_update"].severity == "WARN" and "lower the learning rate" in runaway["dual_ffn_update"].reason
    adam_start = verdicts(attention_snapshot(step=5, audio_ffn_update_ratio=_float([0.5, 0.001])))
    assert adam_start["dual_ffn_update"].severity == "PENDING" and "until step 30" in adam_start["dual_ffn_update"].reason


def test_inconsistent_tables_become_an_analysis_error_not_an_exception(tmp_path):
    from stratlog.sink.pipeline import SinkPipeline

    pipeline = SinkPipeline(tmp_path)
    message = attention_snapshot(text_ffn_grad_norm=_float([]), text_ffn_update_ratio=_float([]))
    pipeline.handle_message(message, 1.0)  # the decoder refuses such a frame; a decoded one goes on from here
    (finding,) = [f for f in pipeline.state.recent_findings if f.check == "analysis_error"]
    assert finding.severity == "WARN" and finding.analysis == "attention" and "ValueError" in finding.reason
    assert pipeline.state.analysis_errors == {"attention analysis": 1}
    pipeline.close()


def test_the_dual_ffn_table_shows_the_verdict_of_each_layer():
    """The dashboard colours the DualFFN table by these, so they agree with the findings."""
    message = attention_snapshot(step=30, text_ffn_grad_norm=_float([0.0, 0.5]), audio_ffn_update_ratio=_float([0.5, np.nan]))
    shown = {name: list(severities) for name, severities in ffn_table_verdicts(message, context_of(message)).items()}
    assert shown == {"text_ffn_grad_norm": ["FAIL", "OK"], "audio_ffn_grad_norm": ["OK", "OK"],
                     "text_ffn_update_ratio": ["OK", "OK"], "audio_ffn_update_ratio": ["WARN", "FAIL"]}
    early = attention_snapshot(step=10, audio_ffn_update_ratio=_float([0.5, 0.001]))
    assert list(ffn_table_verdicts(early, context_of(early))["audio_ffn_update_ratio"]) == ["PENDING", "OK"]
    first_warmup_step = attention_snapshot(step=1, text_ffn_update_ratio=_float([0.0, 0.0]))
    shown = ffn_table_verdicts(first_warmup_step, context_of(first_warmup_step, warmup_steps=5))
    assert list(shown["text_ffn_update_ratio"]) == ["OK", "OK"], "no update is expected at lr 0, as the finding says"
