"""Sharded training under real torchrun (2 CPU ranks, gloo), FSDP2 FULL_SHARD from
examples/sharding/fsdp.json, against plain DDP on the same data and seed.

accelerate ignores the FSDP plugin on CPU ranks (it would silently run DDP), so the FSDP runs go
through tests/trainer/cpu_fsdp_train.py, which makes that one switch and runs the real trainer;
each FSDP run proves it was sharded by the trainer's `sharding:` line (each rank holds about half
of the parameter elements). Tolerance against DDP: FSDP reduce-scatters where DDP all-reduces and
AdamW runs on shards, so sums are taken in another order: 1e-4 relative over 10 steps (seen: under
1e-5). Run: ./run-tests tests/trainer/test_sharded_training.py (slow: launches torchrun)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from stratlog.protocol import AttentionSnapshot, RecordingReader, ZeroShotSnapshot, decode
from stratlog.training_process import torchrun_command
from tests.trainer.data_files import train_args, write_data_file

pytestmark = pytest.mark.slow

FSDP_CONFIG = Path(__file__).parents[2] / "examples" / "sharding" / "fsdp.json"
CPU_FSDP_SCRIPT = Path(__file__).parent / "cpu_fsdp_train.py"
RELATIVE_TOLERANCE = 1e-4
KINDS = ("InputSnapshot", "OutputSnapshot", "AttentionSnapshot", "ZeroShotSnapshot")


@pytest.fixture(scope="module")
def data_file(demo_assets, tmp_path_factory):
    """16 samples of 8 speakers (two each), so every rank's batch has another speaker to swap in."""
    records = json.loads(demo_assets.train_data_file.read_text(encoding="utf-8"))[::15][:16]
    return write_data_file(demo_assets, tmp_path_factory.mktemp("sharded-data"), records)


def run(process_group, args: list[str], *, fsdp: bool) -> str:
    if fsdp:
        args = [*args, "--fsdp", "--fsdp_config", str(FSDP_CONFIG)]
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(CPU_FSDP_SCRIPT), *args]
    else:
        command = torchrun_command(2, args)
    process = process_group.start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 0, output[-4000:]
    if fsdp:
        held = [int(n.replace(",", "")) / int(t.replace(",", ""))
                for n, t in re.findall(r"sharding: fsdp: rank \d holds ([\d,]+) of ([\d,]+) parameter elements \(float32\)", output)]
        assert len(held) == 2 and all(0.45 < share < 0.55 for share in held), output[-3000:]
    return output


def losses(checkpoint: Path) -> list[float]:
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


def snapshots(spool: Path) -> list:
    return [decode(record.frame) for file in sorted(spool.glob("*.stratrec")) for record in RecordingReader(file)]


def by_rank_step(messages: list, kind: type) -> dict:
    return {(m.rank, m.step): m for m in messages if isinstance(m, kind)}


def assert_close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, what
    assert np.allclose(actual, expected, rtol=RELATIVE_TOLERANCE, atol=1e-7, equal_nan=True), (what, actual, expected)


def test_fsdp_trains_like_ddp_with_every_logger_and_capture_changes_nothing(process_group, demo_assets, data_file, tmp_path):
    steps = ["--max_steps", "10", "--save_strategy", "steps", "--save_steps", "10"]
    logging = ["--enable_strategic_logging", "--strategic_logging_steps", "1"]
    runs = {
        "ddp": (False, logging),
        "fsdp": (True, logging),
        "fsdp_without_capture": (True, []),
    }
    for name, (fsdp, flags) in runs.items():
        spool = ["--strategic_spool_dir", str(tmp_path / name / "spool")] if flags else []
        run(process_group, train_args(demo_assets, data_file, tmp_path / name, *steps, *flags, *spool), fsdp=fsdp)

    ddp, fsdp = losses(tmp_path / "ddp" / "checkpoint-10"), losses(tmp_path / "fsdp" / "checkpoint-10")
    assert len(ddp) == 10
    assert_close(fsdp, ddp, "losses, FSDP vs DDP")
    assert losses(tmp_path / "fsdp_without_capture" / "checkpoint-10") == fsdp  # capture never changes training

    ddp_messages, fsdp_messages = snapshots(tmp_path / "ddp" / "spool"), snapshots(tmp_path / "fsdp" / "spool")
    captured = Counter((type(m).__name__, m.rank) for m in fsdp_messages)
    for kind in KINDS:
        assert captured[(kind, 0)] == captured[(kind, 1)] == 10, kind
    assert not [m for m in fsdp_messages if type(m).__name__ == "ErrorEvent"]

    # DDP's probe reads each rank's whole, averaged gradient: the direct computation on the
    # unsharded model (tests/trainer/test_capture_measurements.py checks it against torch itself).
    ddp_attention, fsdp_attention = by_rank_step(ddp_messages, AttentionSnapshot), by_rank_step(fsdp_messages, AttentionSnapshot)
    assert set(fsdp_attention) == {(rank, step) for rank in (0, 1) for step in range(1, 11)}
    for key, sharded in fsdp_attention.items():
        direct = ddp_attention[key]
        for field in ("text_ffn_grad_norm", "audio_ffn_grad_norm", "text_ffn_update_ratio", "audio_ffn_update_ratio",
                      "text_to_audio", "audio_to_text", "target_to_reference", "entropy", "max_weight"):
            assert_close(getattr(sharded, field).to_numpy(), getattr(direct, field).to_numpy(), f"{field} at {key}")
        assert sharded.ffn_layers == direct.ffn_layers and sharded.layers == direct.layers
        assert float(sharded.text_ffn_grad_norm.to_numpy().min()) > 0  # real gradients, not a rank's empty shard
    ddp_zero_shot, fsdp_zero_shot = by_rank_step(ddp_messages, ZeroShotSnapshot), by_rank_step(fsdp_messages, ZeroShotSnapshot)
    for key, sharded in fsdp_zero_shot.items():
        assert not sharded.skipped_reason and sharded.swapped_speakers == ddp_zero_shot[key].swapped_speakers
        assert_close(sharded.swapped_reference_loss.to_numpy(), ddp_zero_shot[key].swapped_reference_loss.to_numpy(), f"swap {key}")
        assert_close(sharded.true_reference_loss.to_numpy(), ddp_zero_shot[key].true_reference_loss.to_numpy(), f"true {key}")


def test_fsdp_sharded_checkpoint_resumes_with_the_same_losses(process_group, demo_assets, data_file, tmp_path):
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    common = ["--max_steps", "6", "--save_strategy", "steps", "--save_steps", "3"]
    run(process_group, train_args(demo_assets, data_file, full, *common), fsdp=True)
    assert sorted(path.name for path in (full / "checkpoint-3").iterdir() if path.is_dir()) == ["optimizer_0", "pytorch_model_fsdp_0"]
    shutil.copytree(full / "checkpoint-3", resumed / "checkpoint-3")
    run(process_group, train_args(demo_assets, data_file, resumed, *common, "--resume_from_checkpoint",
                                  str(resumed / "checkpoint-3")), fsdp=True)
    assert losses(resumed / "checkpoint-6")[3:] == losses(full / "checkpoint-6")[3:]


def test_lora_under_fsdp_trains_like_lora_under_ddp(process_group, demo_assets, data_file, tmp_path):
    common = ["--max_steps", "3", "--save_strategy", "steps", "--save_steps", "3", "--use_lora",
              "--enable_strategic_logging", "--strategic_logging_steps", "1"]
    for name, fsdp in (("ddp", False), ("fsdp", True)):
        run(process_group, train_args(demo_assets, data_file, tmp_path / name, *common, "--strategic_spool_dir",
                                      str(tmp_path / name / "spool")), fsdp=fsdp)
    assert_close(losses(tmp_path / "fsdp" / "checkpoint-3"), losses(tmp_path / "ddp" / "checkpoint-3"), "LoRA losses")
    captured = Counter((type(m).__name__, m.rank) for m in snapshots(tmp_path / "fsdp" / "spool"))
    assert all(captured[(kind, rank)] == 3 for kind in KINDS for rank in (0, 1)), captured


def test_capturing_on_some_ranks_only_is_refused_under_fsdp_before_anything_loads(process_group, demo_assets, data_file, tmp_path):
    args = train_args(demo_assets, data_file, tmp_path, "--max_steps", "1", "--enable_strategic_logging", "--strategic_ranks", "0",
                      "--fsdp", "--fsdp_config", str(FSDP_CONFIG))
    process = process_group.start([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                                   str(CPU_FSDP_SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0
    assert output.count("error: --strategic_ranks 0") == 1 and "Loading weights" not in output, output[-3000:]
