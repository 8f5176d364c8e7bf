"""A live 2-rank demo run and the replay of its recording give byte-identical findings.jsonl,
with findings from all four analyses and metrics health.
Run: ./run-tests tests/e2e/test_sink_findings_replay.py  (slow: trains for real)"""

from __future__ import annotations

import json

import pytest

from tests.processes import replayed_log, stratlog_command

pytestmark = pytest.mark.slow


def test_live_demo_and_its_replay_write_the_same_findings(process_group, demo_assets, tmp_path):
    demo = process_group.start(stratlog_command("demo", "--headless", "--max-steps", "20", "--out", str(tmp_path / "run")))
    assert demo.wait(timeout=300) == 0
    live = tmp_path / "run" / "logs"
    replay_dir = tmp_path / "replay"
    log = (live / "strategic_log.txt").read_text()
    assert replayed_log(live / "stream.stratrec", replay_dir) == log

    live_findings = (live / "findings.jsonl").read_bytes()
    assert live_findings == (replay_dir / "findings.jsonl").read_bytes()
    findings = [json.loads(line) for line in live_findings.decode().splitlines()]
    analyses = {(f["analysis"], f["rank"]) for f in findings}
    assert {(analysis, rank) for analysis in ("input", "output", "attention", "zero_shot", "metrics")
            for rank in (0, 1)} <= analyses
    latest = {(f["analysis"], f["check"], f["rank"]): f for f in findings}  # the last of each check
    for check in (("input", "reference_audio", 0), ("input", "special_tokens", 0), ("input", "truncation", 0),
                  ("output", "audio_eos", 0), ("attention", "dual_ffn_gradient", 0),
                  ("attention", "dual_ffn_update", 1), ("metrics", "grad_norm", 0)):
        assert latest[check]["severity"] == "OK", latest[check]
    # the cross-rank check is judged on whichever rank's snapshot of a step arrives second
    rank_data = [f for f in findings if f["check"] == "rank_data"]
    assert rank_data and all(f["severity"] == "OK" for f in rank_data), rank_data

    for title in ("Input Sequence Analysis:", "Output Analysis:", "Shared Attention / DualFFN Analysis:",
                  "Zero-Shot Verification:"):
        assert log.count(title) == 6, title  # steps 1, 10, 20 on two ranks
