"""`stratlog replay --fail-on` on the fixed 20-step demo recording: the summary printed at the end
and the exit code. A healthy run's first 20 steps raise no WARN and no FAIL: what needs training
time (the model using the reference voice) is PENDING, which no --fail-on counts, so both exit 0
(a check that failed: tests/sink/test_run_summary.py).
Run: ./run-tests tests/e2e/test_replay_summary.py"""

from __future__ import annotations

import subprocess

import pytest

from stratlog.sink.thresholds import REFERENCE_GRACE_STEPS
from tests.processes import stratlog_command
from tests.tui.replayed import RECORDING, TOKENIZER


@pytest.mark.parametrize(("fail_on", "expected"), [("fail", 0), ("warn", 0)])
def test_replay_prints_the_summary_and_exits_by_fail_on(tmp_path, fail_on, expected):
    replay = subprocess.run(stratlog_command("replay", str(RECORDING), "--tokenizer", str(TOKENIZER), "--log-dir",
                                             str(tmp_path), "--fail-on", fail_on),
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == expected, replay.stderr
    lines = replay.stdout.splitlines()
    summary = lines[lines.index(next(line for line in lines if line.startswith("run summary"))):]
    assert "checks: 0 FAIL, 0 WARN, 22 OK, 3 PENDING (still in their grace when the run ended)" in summary
    pending = next(line for line in summary if "zero_shot/conditioning_effect" in line)
    assert pending.split()[:4] == ["PENDING", "zero_shot/conditioning_effect", "step", "1"]
    assert f"pending until step {REFERENCE_GRACE_STEPS}" in pending
    assert f"log: {tmp_path / 'findings.jsonl'}" in summary
    live = lines[:lines.index(summary[0])]
    assert not [line for line in live if line.startswith(("WARN", "FAIL", "PENDING"))]  # pending is no alarm
