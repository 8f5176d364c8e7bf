"""`stratlog compare LOGDIR...`: several runs' key figures side by side, read from their logs (issue 21)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from stratlog.sink.audio_clips import FOLDER as AUDIO_FOLDER
from stratlog.sink.audio_clips import append_sim_row
from stratlog.sink.thresholds import SIM_WINDOW
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


def test_sim_is_the_last_windows_mean_beside_its_ceiling_where_a_run_measured_it(tmp_path):
    """Rows written by the decoding child's own writer; the run without audio/sim.jsonl shows —."""
    scored, unscored = tmp_path / "scored", tmp_path / "unscored"
    for folder, run_id in ((scored, "sim-run-1"), (unscored, "plain-run")):
        write_jsonl(folder / "metrics.jsonl", [{"run_id": run_id, "rank": 0, "step": 1, "time": 1.0, "loss": 1.0}])
    (scored / AUDIO_FOLDER).mkdir()
    predicted = [0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9]  # the last 5: mean 0.7
    for step, value in enumerate(predicted, start=1):
        append_sim_row(scored / AUDIO_FOLDER, {"run_id": "sim-run-1", "step": step * 10, "rank": step % 2, "sample": 0,
                                               "speaker": "spk01", "sim_reference_predicted": value,
                                               "sim_reference_target": 0.9 if step > 2 else 0.1})
    done = compare(scored, unscored)
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout)[f"SIM (last {SIM_WINDOW} captures)"] == ["0.700 (ceiling 0.900)", "—"]
