"""The demo command itself, headless: the loss falls over 100 steps, and Ctrl-C leaves no
process behind. Run: ./run-tests tests/e2e/test_demo.py  (slow: trains for real)"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.processes import processes_mentioning, read_jsonl, stratlog_command, wait_for

pytestmark = pytest.mark.slow


def losses_by_step(metrics_file: Path, rank: int = 0) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_jsonl(metrics_file) if r["rank"] == rank and "loss" in r}


def test_demo_loss_after_100_steps_is_clearly_lower_than_at_step_1(process_group, demo_assets, tmp_path):
    demo = process_group.start(stratlog_command("demo", "--headless", "--max-steps", "100", "--out", str(tmp_path)))
    assert demo.wait(timeout=900) == 0
    for rank in (0, 1):
        losses = losses_by_step(tmp_path / "logs" / "metrics.jsonl", rank)
        assert set(range(1, 101)) <= set(losses), f"rank {rank} is missing metrics steps"
        late = sum(losses[s] for s in range(96, 101)) / 5
        assert late < 0.7 * losses[1], f"rank {rank}: loss {losses[1]:.3f} at step 1, {late:.3f} over steps 96-100"


def test_ctrl_c_stops_the_demo_and_leaves_no_process(process_group, demo_assets, tmp_path):
    demo = process_group.start(stratlog_command("demo", "--headless", "--max-steps", "100000", "--out", str(tmp_path)))
    metrics = tmp_path / "logs" / "metrics.jsonl"
    wait_for(lambda: metrics.is_file() and metrics.stat().st_size > 0, 300, what="training to start")
    assert processes_mentioning(str(tmp_path)), "expected torchrun and its ranks to be running"

    os.killpg(demo.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground group
    assert demo.wait(timeout=60) is not None
    wait_for(lambda: not processes_mentioning(str(tmp_path)), 10, what="every trainer process to exit")
