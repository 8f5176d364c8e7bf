"""`stratlog replay --fail-on` on the fixed 20-step demo recording: the summary printed at the end
and the exit code. The recording's findings hold 40 WARN and no FAIL (a young model ignores the
reference voice, uniform attention heads), so --fail-on fail exits 0 and --fail-on warn exits 3.
Run: ./run-tests tests/e2e/test_replay_summary.py"""

from __future__ import annotations

import subprocess

import pytest

from stratlog.sink.run_summary import FAIL_ON_EXIT_CODE
from tests.processes import stratlog_command
from tests.tui.replayed import RECORDING, TOKENIZER


@pytest.mark.parametrize(("fail_on", "expected"), [("fail", 0), ("warn", FAIL_ON_EXIT_CODE)])
def test_replay_prints_the_summary_and_exits_by_fail_on(tmp_path, fail_on, expected):
    replay = subprocess.run(stratlog_command("replay", str(RECORDING), "--tokenizer", str(TOKENIZER), "--log-dir",
                                             str(tmp_path), "--fail-on", fail_on),
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == expected, replay.stderr
    lines = replay.stdout.splitlines()
    summary = lines[lines.index(next(line for line in lines if line.startswith("run summary"))):]
    assert "checks: 0 FAIL, 5 WARN, 21 OK" in summary
    assert any(line.split()[:4] == ["WARN", "output/codebook_accuracy", "step", "10"] for line in summary)
    assert f"log: {tmp_path / 'findings.jsonl'}" in summary
    live = lines[:lines.index(summary[0])]
    assert sum(line.startswith("WARN output/codebook_accuracy (rank 0 step 10)") for line in live) == 1  # no repeats
