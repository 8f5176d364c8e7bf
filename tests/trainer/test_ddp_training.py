"""Real torchrun runs on the embedded checkpoint (2 CPU ranks, gloo): the loss falls and the two
ranks train on disjoint samples within each epoch; a run resumed from a checkpoint at step k
continues with the same losses and the same samples as the uninterrupted run.

Run: `python -m pytest -q tests/trainer/test_ddp_training.py` (slow: about 1-2 min on 2 cores).
Sample ids are observed with `--record_sample_ids` (each rank writes the ids of the batches its
model call received). Fixed --seed; one thread per rank (the ranks would fight over 2 cores).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from stratlog.training_process import torchrun_command
from tests.trainer.data_files import demo_records, train_args, write_data_file
from stratlog.trainer.sample_ids import read_sample_ids

pytestmark = pytest.mark.slow

SAMPLES, PER_DEVICE, RANKS = 16, 2, 2
STEPS_PER_EPOCH = SAMPLES // (PER_DEVICE * RANKS)


def torchrun(process_group, args: list[str]) -> str:
    process = process_group.start(torchrun_command(RANKS, args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-4000:]
    return output


def log_history(checkpoint: Path) -> list[dict]:
    return json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]


def logged_losses(checkpoint: Path) -> dict[int, float]:
    return {entry["step"]: entry["loss"] for entry in log_history(checkpoint) if "loss" in entry}


def ids_by_step(output_dir: Path) -> dict[tuple[int, int], list[str]]:
    """(rank, step) -> sample ids of that step's micro-batch(es)."""
    steps: dict[tuple[int, int], list[str]] = {}
    for rank in range(RANKS):
        for line in read_sample_ids(output_dir / "sample_ids" / f"rank{rank}.jsonl"):
            steps.setdefault((rank, line["step"]), []).extend(line["sample_ids"])
    return steps


@pytest.fixture(scope="module")
def data_file(demo_assets, tmp_path_factory):
    return write_data_file(demo_assets, tmp_path_factory.mktemp("ddp-data"), demo_records(demo_assets, SAMPLES))


def test_two_ranks_loss_falls_and_ranks_see_disjoint_samples(process_group, demo_assets, data_file, tmp_path):
    steps = 3 * STEPS_PER_EPOCH
    out = tmp_path / "run"
    torchrun(process_group, train_args(demo_assets, data_file, out, "--max_steps", str(steps), "--save_strategy", "steps",
                                       "--save_steps", str(steps), "--record_sample_ids"))
    losses = logged_losses(out / f"checkpoint-{steps}")
    assert sorted(losses) == list(range(1, steps + 1))
    first, last = sum(losses[s] for s in (1, 2)) / 2, sum(losses[s] for s in (steps - 1, steps)) / 2
    assert last < first - 0.5, losses
    # loss is Trainer's all-rank mean; text_loss and audio_loss must be all-rank means too, so at
    # weights 1 they add up to it (each logged to 4 decimals; rank-local parts differ by ~0.1)
    for entry in (entry for entry in log_history(out / f"checkpoint-{steps}") if "loss" in entry):
        assert abs(entry["text_loss"] + entry["audio_loss"] - entry["loss"]) < 3e-4, entry

    by_step = ids_by_step(out)
    assert set(by_step) == {(rank, step) for rank in range(RANKS) for step in range(1, steps + 1)}
    all_ids = {record["misc"]["sample_id"] for record in demo_records(demo_assets, SAMPLES)}
    for epoch in range(3):
        epoch_steps = range(epoch * STEPS_PER_EPOCH + 1, (epoch + 1) * STEPS_PER_EPOCH + 1)
        per_rank = [[i for s in epoch_steps for i in by_step[(rank, s)]] for rank in range(RANKS)]
        assert all(len(ids) == len(set(ids)) == SAMPLES // RANKS for ids in per_rank), per_rank
        assert not set(per_rank[0]) & set(per_rank[1]), f"epoch {epoch}: ranks share samples"
        assert set(per_rank[0]) | set(per_rank[1]) == all_ids


def test_resume_continues_with_the_same_losses_and_data_order(process_group, demo_assets, data_file, tmp_path):
    steps, stop_at = 6, 3
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    common = ["--max_steps", str(steps), "--save_strategy", "steps", "--save_steps", str(stop_at), "--record_sample_ids"]
    torchrun(process_group, train_args(demo_assets, data_file, full, *common))
    # The state at step k, as an interrupted run leaves it: only checkpoint-k in a fresh output folder.
    shutil.copytree(full / f"checkpoint-{stop_at}", resumed / f"checkpoint-{stop_at}")
    output = torchrun(process_group, train_args(demo_assets, data_file, resumed, *common,
                                                "--resume_from_checkpoint", str(resumed / f"checkpoint-{stop_at}")))
    expected, actual = logged_losses(full / f"checkpoint-{steps}"), logged_losses(resumed / f"checkpoint-{steps}")
    assert [actual[s] for s in range(stop_at + 1, steps + 1)] == [expected[s] for s in range(stop_at + 1, steps + 1)], output[-3000:]
    full_ids, resumed_ids = ids_by_step(full), ids_by_step(resumed)
    assert {key for key in resumed_ids} == {(r, s) for r in range(RANKS) for s in range(stop_at + 1, steps + 1)}
    assert all(resumed_ids[key] == full_ids[key] for key in resumed_ids)


def test_bad_samples_stop_every_rank_with_one_report(process_group, demo_assets, tmp_path):
    """Rank 0 alone prints the bad-sample report; every rank exits with code 2 (torchrun then
    exits non-zero with its own summary of the failed ranks)."""
    records = demo_records(demo_assets, 4)
    records[1]["messages"][1]["content"][1]["audio_url"] = "clips/missing.wav"
    data_file = write_data_file(demo_assets, tmp_path / "data", records)
    command = torchrun_command(RANKS, train_args(demo_assets, data_file, tmp_path / "out", "--max_steps", "1"))
    process = process_group.start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0
    assert output.count("1 bad sample(s)") == 1 and output.count("--skip_bad_samples") == 1, output[-4000:]
    assert "missing.wav" in output
