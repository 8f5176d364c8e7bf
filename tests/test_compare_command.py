"""`stratlog compare LOGDIR...`: several runs' key figures side by side, read from their logs (issue 21)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.processes import read_jsonl, replay_demo, stratlog_command


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def compare(*log_dirs: Path) -> subprocess.CompletedProcess:
    return subprocess.run(stratlog_command("compare", *map(str, log_dirs)), capture_output=True, text=True, timeout=60)


def rows(output: str) -> dict[str, list[str]]:
    """Row name -> its cells (the columns are separated by two spaces or more)."""
    table = {}
    for line in output.splitlines():
        name, *cells = [cell for cell in line.split("  ") if cell.strip()]
        table[name.strip()] = [cell.strip() for cell in cells]
    return table


def test_a_replayed_run_beside_a_failing_one(tmp_path):
    replayed = tmp_path / "demo"
    replay_demo(replayed)
    broken = tmp_path / "broken"
    write_jsonl(broken / "metrics.jsonl", [
        {"run_id": "bad-run-1", "rank": 0, "step": 1, "time": 1.0, "loss": 9.0, "text_loss": 4.0, "audio_loss": 5.0},
        {"run_id": "bad-run-1", "rank": 0, "step": 2, "time": 2.0, "loss": 8.0, "text_loss": 3.0, "audio_loss": 5.0},
        {"run_id": "bad-run-1", "rank": 1, "step": 2, "time": 2.0, "loss": 6.0, "text_loss": 3.0, "audio_loss": 3.0},
    ])
    write_jsonl(broken / "findings.jsonl", [
        {"run_id": "bad-run-1", "rank": 0, "step": 2, "analysis": "zero_shot", "check": "conditioning_effect",
         "severity": "FAIL", "reason": "r", "value": -0.5},
        {"run_id": "bad-run-1", "rank": 0, "step": 2, "analysis": "metrics", "check": "grad_norm", "severity": "WARN",
         "reason": "r", "value": None},
        {"run_id": "bad-run-1", "rank": 1, "step": 2, "analysis": "metrics", "check": "grad_norm", "severity": "WARN",
         "reason": "r", "value": None},
    ])
    done = compare(replayed, broken)
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    demo_run = read_jsonl(replayed / "metrics.jsonl")[0]["run_id"]
    assert table["run"] == [f"demo:{demo_run[:8]}", "broken:bad-run-"]
    finals = {}
    for record in read_jsonl(replayed / "metrics.jsonl"):
        if "loss" in record:
            finals[record["rank"]] = record["loss"]
    assert table["final loss"] == [f"{sum(finals.values()) / len(finals):.4f}", "7.0000"]  # the ranks' last values
    assert table["final audio_loss"][1] == "4.0000"
    assert table["last step"] == ["20", "2"]
    assert table["conditioning effect"][1] == "-0.5 FAIL"
    assert table["conditioning effect"][0].endswith("PENDING")  # the demo is too short to judge it
    assert table["metrics.grad_norm"] == ["-", "WARN 2"]
    assert table["zero_shot.conditioning_effect"] == ["-", "FAIL 1"]


def test_a_folder_without_logs_is_named(tmp_path):
    done = compare(tmp_path)
    assert done.returncode == 2
    assert str(tmp_path) in done.stderr
