"""`stratlog train` as a user runs it, headless, with the demo's data on a real 2-rank torchrun:
every step logged (no --logging_steps given: metrics every step) and the summary printed;
--fail-on fail exits 0 on a healthy run and FAIL_ON_EXIT_CODE on a planted fault; SIGTERM to
`stratlog train` or to `stratlog demo` leaves no process and the sink records every rank's run
end. Run: ./run-tests tests/e2e/test_train_command.py  (slow: trains for real)"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from stratlog.demo import DemoConfig, demo_train_args
from stratlog.sink.run_summary import FAIL_ON_EXIT_CODE
from stratlog.training_process import train_script
from tests.processes import processes_mentioning, read_jsonl, stratlog_command, wait_for

pytestmark = pytest.mark.slow

SET_BY_TRAIN = {"--strategic_sink_address": 1, "--enable_strategic_logging": 0, "--logging_steps": 1}
"""Demo flags (with how many values) a `stratlog train` user leaves out: the command sets the
first two, and the test checks the every-step default of the third."""


def torchrun_args(assets, out, max_steps: int, *extra: str) -> list[str]:
    """The demo's torchrun arguments for `stratlog train`: 2 ranks, captures every 5 steps."""
    demo = demo_train_args(assets, DemoConfig(out=out, max_steps=max_steps, capture_interval=5), sink_address="")
    kept, index = [], 0
    while index < len(demo):
        skip = SET_BY_TRAIN.get(demo[index])
        if skip is None:
            kept.append(demo[index])
            index += 1
        else:
            index += 1 + skip
    return ["--standalone", "--nproc_per_node=2", str(train_script()), *kept, *extra]


def train(tmp_path, assets, max_steps: int, *extra: str, headless_args=("--fail-on", "fail")) -> list[str]:
    return stratlog_command("train", "--headless", "--log-dir", str(tmp_path / "logs"), *headless_args, "--",
                            *torchrun_args(assets, tmp_path, max_steps, *extra))


def test_train_logs_every_step_and_prints_the_summary(demo_assets, tmp_path):
    run = subprocess.run(train(tmp_path, demo_assets, 12), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    metrics = read_jsonl(tmp_path / "logs" / "metrics.jsonl")
    for rank in (0, 1):
        assert sorted(row["step"] for row in metrics if row["rank"] == rank and "loss" in row) == list(range(1, 13))
    assert "run summary" in run.stdout and "checks: 0 FAIL" in run.stdout
    assert f"log: {tmp_path / 'logs' / 'findings.jsonl'}" in run.stdout
    assert "no sink was reached" not in run.stdout + run.stderr


def test_fail_on_fail_exits_non_zero_on_a_planted_fault(demo_assets, tmp_path):
    run = subprocess.run(train(tmp_path, demo_assets, 3, "--plant_fault", "no_backward"), capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == FAIL_ON_EXIT_CODE, run.stdout[-3000:] + run.stderr[-3000:]
    assert "FAIL metrics/grad_norm" in run.stdout  # the live line and the summary both name it


@pytest.mark.parametrize("command", ["train", "demo"])
def test_sigterm_stops_everything_and_the_sink_records_every_run_end(process_group, demo_assets, tmp_path, command):
    if command == "train":
        argv = train(tmp_path, demo_assets, 100_000, headless_args=())
    else:
        argv = stratlog_command("demo", "--headless", "--max-steps", "100000", "--out", str(tmp_path))
    started = process_group.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metrics = tmp_path / "logs" / "metrics.jsonl"
    wait_for(lambda: metrics.is_file() and metrics.stat().st_size > 0, 300, what="training to start")
    children = processes_mentioning(str(tmp_path))
    assert len(children) >= 3, "expected torchrun and its two ranks to be running"

    signalled = time.monotonic()
    started.send_signal(signal.SIGTERM)  # the command alone, as docker stop, systemd or timeout would
    output, _ = started.communicate(timeout=60)
    took_s = time.monotonic() - signalled
    assert started.returncode == 128 + signal.SIGTERM, output[-3000:]
    wait_for(lambda: not processes_mentioning(str(tmp_path)), 10, what="every trainer process to exit")
    run_ends = [f for f in read_jsonl(tmp_path / "logs" / "findings.jsonl") if f["check"] == "run_end"]
    assert sorted(f["rank"] for f in run_ends) == [0, 1]
    assert all("'terminated'" in f["reason"] for f in run_ends)
    assert "Traceback" not in output
    print(f"\nFIGURE SIGTERM to stratlog {command}: exited {took_s:.1f} s after the signal, "
          f"all {len(children)} processes gone, run ends of ranks 0 and 1 recorded")
