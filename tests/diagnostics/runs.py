"""One diagnostic run: the tiny demo trained by 2 CPU torchrun ranks, with a planted fault or
none, watched by a real `stratlog sink` process; returns the sink's findings.

The training flags are the demo's own (`stratlog.demo.demo_train_args`) with the seed, the step
count and the capture interval of the case, plus `--plant_fault` (trainer/faults.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from stratlog.demo import DemoConfig, demo_train_args
from stratlog.training_process import torchrun_command
from tests.processes import ProcessGroup, stratlog_command, wait_for

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
        return min(fails, key=lambda f: f["step"]) if fails else None

    def by_severity(self, severity: str) -> list[dict]:
        return [f for f in self.findings if f["severity"] == severity]


def captures_up_to(step: int, interval: int = CAPTURE_INTERVAL) -> int:
    """How many capture steps (1, interval, 2 x interval, ...) there are up to `step`."""
    return 1 + step // interval if step >= interval else 1


def run_demo(assets, out: Path, group: ProcessGroup, *, seed: int, max_steps: int, fault: str = "") -> DiagnosticRun:
    started = time.monotonic()
    log_dir, address_file = out / "logs", out / "sink-address"
    sink = group.start(stratlog_command("sink", "--bind", "tcp://127.0.0.1:0", "--log-dir", str(log_dir), "--headless",
                                        "--exit-after-run", "--address-file", str(address_file)))
    address = wait_for(lambda: address_file.is_file() and address_file.read_text(), 60, what="the sink to listen")
    args = demo_train_args(assets, DemoConfig(out=out, max_steps=max_steps, capture_interval=CAPTURE_INTERVAL), address)
    args[args.index("--seed") + 1] = str(seed)
    if fault:
        args += ["--plant_fault", fault]
    with open(out / "trainer.log", "w") as log:
        trainer = group.start(torchrun_command(2, args), stdout=log, stderr=log)
        code = trainer.wait(timeout=300)
    sink.wait(timeout=60)
    findings = [json.loads(line) for line in (log_dir / "findings.jsonl").read_text().splitlines()]
    return DiagnosticRun(findings, time.monotonic() - started, code, (out / "trainer.log").read_text()[-3000:])
