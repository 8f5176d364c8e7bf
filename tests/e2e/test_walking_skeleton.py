"""End to end with real processes: a real sink process, real torchrun with 2 CPU ranks,
msgpack over ZeroMQ, the human log, the recording and its replay.
Run: ./run-tests tests/e2e/test_walking_skeleton.py  (slow: launches torchrun)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from stratlog.demo import DemoConfig, demo_train_args
from stratlog.training_process import torchrun_command
from tests.processes import free_address, read_jsonl, replayed_log, start_sink

pytestmark = pytest.mark.slow

STEPS = 4
INTERVAL = 2


def run_training(process_group, demo_assets, out: Path, sink_address: str, steps: int = STEPS) -> subprocess.CompletedProcess:
    config = DemoConfig(out=out, max_steps=steps, capture_interval=INTERVAL)
    process = process_group.start(torchrun_command(2, demo_train_args(demo_assets, config, sink_address)),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=420)
    return subprocess.CompletedProcess(process.args, process.returncode, output)


def test_two_ranks_reach_the_sink_and_replay_gives_the_same_log(process_group, demo_assets, tmp_path):
    log_dir = tmp_path / "logs"
    sink, address = start_sink(process_group, log_dir, tmp_path / "address", "--exit-after-run")

    training = run_training(process_group, demo_assets, tmp_path, address)
    assert training.returncode == 0, training.stdout[-4000:]
    assert sink.wait(timeout=60) == 0

    log = (log_dir / "strategic_log.txt").read_text()
    for step in (1, 2, 4):  # step 1, then every INTERVAL steps
        assert f"=== Zero-Shot Voice Cloning Training Log - Step {step} ===" in log
    assert "=== Zero-Shot Voice Cloning Training Log - Step 3 ===" not in log
    entries = re.findall(r"Step (\d+) ===\nTimestamp: [0-9-]+ [0-9:]+ UTC\nRank: (\d) of 2", log)
    assert sorted(set(entries)) == [(s, r) for s in ("1", "2", "4") for r in ("0", "1")]
    assert len(entries) == 6  # once per step per rank, not per micro-batch or per callback
    decoded = re.findall(r'Decoded Text \(first sample\): "(.*)"', log)
    assert decoded and all(text.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>") for text in decoded)
    assert all(re.search(r"<\|AUDIO_OUT\|> x\d+<\|reserved_special_token_6\|> x7<\|audio_eos\|>", t) for t in decoded)
    shapes = re.findall(r"Tokenized Input Shape: torch.Size\(\[(\d+), (\d+)\]\)", log)
    assert len(shapes) == 6 and all(int(batch) == 4 and int(length) > 50 for batch, length in shapes)
    assert "reference audio: 4 segment(s)" in log and "target audio: 4 segment(s)" in log

    metrics = read_jsonl(log_dir / "metrics.jsonl")
    assert {(m["rank"], m["step"]) for m in metrics if "loss" in m} >= {(r, s) for r in (0, 1) for s in range(1, STEPS + 1)}

    replay_dir = tmp_path / "replay"
    assert replayed_log(log_dir / "stream.stratrec", replay_dir) == log
    assert (replay_dir / "metrics.jsonl").read_text() == (log_dir / "metrics.jsonl").read_text()


def test_training_completes_with_no_sink_running(process_group, demo_assets, tmp_path):
    training = run_training(process_group, demo_assets, tmp_path, free_address())
    assert training.returncode == 0, training.stdout[-4000:]
    assert "train_runtime" in training.stdout
