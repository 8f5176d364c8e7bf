"""Strategic capture under real torchrun (2 CPU ranks): it never changes training, it fires
exactly once per optimizer step, and a failing capture is reported while training goes on.
Run: ./run-tests tests/trainer/test_capture_e2e.py  (slow: launches torchrun)"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from stratlog.protocol import ErrorEvent, RecordingReader, decode
from stratlog.demo import DemoConfig, demo_train_args
from stratlog.training_process import torchrun_command
from tests.processes import free_address, start_sink

pytestmark = pytest.mark.slow


def train(process_group, assets, out: Path, address: str, *extra: str, launcher: list[str] | None = None) -> str:
    args = demo_train_args(assets, DemoConfig(out=out), address) + list(extra)
    command = (launcher + [str(Path(__file__).parent / "failing_capture_train.py")] + args) if launcher else torchrun_command(2, args)
    process = process_group.start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 0, output[-4000:]
    return output


def messages(path: Path) -> list:
    return [decode(record.frame) for file in sorted(path.glob("*.stratrec")) for record in RecordingReader(file)]


def test_losses_are_bit_identical_with_capture_every_step_and_without(process_group, demo_assets, tmp_path):
    runs = {}
    for name, flags in (("off", ["--enable_strategic_logging", "false"]),
                        ("every_step", ["--strategic_logging_steps", "1", "--strategic_spool_dir", str(tmp_path / "spool")])):
        out = tmp_path / name
        train(process_group, demo_assets, out, free_address(), "--max_steps", "30", "--save_strategy", "steps",
              "--save_steps", "30", *flags)
        state = json.loads((out / "checkpoints" / "checkpoint-30" / "trainer_state.json").read_text())
        weights = (out / "checkpoints" / "checkpoint-30" / "model.safetensors").read_bytes()
        runs[name] = ([(e["step"], e["loss"], e["grad_norm"]) for e in state["log_history"] if "loss" in e],
                      hashlib.sha256(weights).hexdigest())
    assert len(runs["off"][0]) == 30
    assert runs["every_step"][0] == runs["off"][0]  # exact float equality, step by step
    assert runs["every_step"][1] == runs["off"][1]  # and the same final weights, bit for bit
    captured = Counter((type(m).__name__, m.rank) for m in messages(tmp_path / "spool"))
    for kind in ("InputSnapshot", "OutputSnapshot", "AttentionSnapshot", "ZeroShotSnapshot"):
        assert captured[(kind, 0)] == captured[(kind, 1)] == 30, kind  # capture really ran on every step


def test_gradient_accumulation_captures_once_per_optimizer_step(process_group, demo_assets, tmp_path):
    train(process_group, demo_assets, tmp_path, free_address(), "--max_steps", "10", "--per_device_train_batch_size", "1",
          "--gradient_accumulation_steps", "4", "--strategic_logging_steps", "5", "--strategic_spool_dir", str(tmp_path / "spool"))
    steps = Counter((type(m).__name__, m.rank, m.step) for m in messages(tmp_path / "spool"))
    for kind in ("InputSnapshot", "OutputSnapshot", "AttentionSnapshot", "ZeroShotSnapshot"):
        for rank in (0, 1):
            assert sorted(step for (k, r, step), n in steps.items() if k == kind and r == rank) == [1, 5, 10], (kind, rank)
            assert all(n == 1 for (k, r, _), n in steps.items() if k == kind and r == rank)


def test_a_failing_capture_is_reported_and_training_finishes(process_group, demo_assets, tmp_path):
    log_dir = tmp_path / "logs"
    sink, address = start_sink(process_group, log_dir, tmp_path / "address", "--exit-after-run")
    output = train(process_group, demo_assets, tmp_path, address, "--max_steps", "6", "--strategic_logging_steps", "2",
                   launcher=[sys.executable])
    assert "train_runtime" in output  # training ran to its end
    assert sink.wait(timeout=60) == 0
    received = messages(log_dir)
    errors = [m for m in received if isinstance(m, ErrorEvent)]
    assert [(e.where, e.error_type, e.step) for e in errors] == [("zero_shot_snapshot", "RuntimeError", s) for s in (1, 2, 4, 6)]
    assert errors[-1].count == 4 and "planted capture failure" in errors[-1].message
    kinds = Counter(type(m).__name__ for m in received)
    assert kinds["OutputSnapshot"] == 4 and kinds["ZeroShotSnapshot"] == 0 and kinds["RunEnd"] == 1
