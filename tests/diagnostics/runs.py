"""One diagnostic run: the tiny demo trained by 2 CPU torchrun ranks, with a planted fault or
none, watched by a real `stratlog sink` process; returns the sink's findings.

The training flags are the demo's own (`stratlog.demo.demo_train_args`) with the seed, the step
count and the capture interval of the case, plus `--plant_fault` (trainer/faults.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from stratlog.demo import DemoConfig, demo_train_args
from stratlog.training_process import torchrun_command
from tests.processes import ProcessGroup, read_jsonl, start_sink

CAPTURE_INTERVAL = 10
"""Captures at steps 1, 10, 20, ...: "captures to detection" counts these."""


@dataclass
class DiagnosticRun:
    findings: list[dict]
    wall_s: float
    trainer_exit_code: int
    trainer_output: str

    def first_fail(self, analysis: str, check: str) -> dict | None:
        fails = [f for f in self.findings if (f["analysis"], f["check"], f["severity"]) == (analysis, check, "FAIL")]
        # (step, rank): when both ranks fail at one step, the table shows rank 0's, whichever arrived first
        return min(fails, key=lambda f: (f["step"], f["rank"])) if fails else None

    def by_severity(self, severity: str) -> list[dict]:
        return [f for f in self.findings if f["severity"] == severity]


def captures_up_to(step: int, interval: int = CAPTURE_INTERVAL) -> int:
    """How many capture steps (1, interval, 2 x interval, ...) there are up to `step`."""
    return 1 + step // interval if step >= interval else 1


def run_demo(assets, out: Path, group: ProcessGroup, *, seed: int, max_steps: int, fault: str = "",
             capture_interval: int = CAPTURE_INTERVAL) -> DiagnosticRun:
    started = time.monotonic()
    log_dir = out / "logs"
    sink, address = start_sink(group, log_dir, out / "sink-address", "--headless", "--exit-after-run")
    config = DemoConfig(out=out, max_steps=max_steps, capture_interval=capture_interval, seed=seed)
    args = demo_train_args(assets, config, address)
    if fault:
        args += ["--plant_fault", fault]
    with open(out / "trainer.log", "w") as log:
        trainer = group.start(torchrun_command(2, args), stdout=log, stderr=log)
        code = trainer.wait(timeout=600)  # a 200-step run of espeak-ng's longer clips took 300 s on 2 busy cores
    sink.wait(timeout=60)
    return DiagnosticRun(read_jsonl(log_dir / "findings.jsonl"), time.monotonic() - started, code, (out / "trainer.log").read_text()[-3000:])
