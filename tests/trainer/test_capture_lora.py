"""Capture never changes training under LoRA either: with lora_dropout on, the attention probe
re-runs the peft q/k projections, whose dropout would draw from the RNG in train mode and move
every later dropout mask. Losses and final weights with capture at every step equal those with
capture off, bit for bit.

Run: `python -m pytest -q tests/trainer/test_capture_lora.py` (about 40 s; two in-process runs of
train_v2_ddp.main, 6 steps each). Seeded (--seed 42); no sink listens (the publisher never waits
for one), the spool proves capture ran.
"""

from __future__ import annotations

import hashlib
import json

from stratlog.protocol import RecordingReader, decode
from stratlog.trainer import train_v2_ddp
from tests.trainer.data_files import demo_records, train_args, write_data_file

STEPS = 6


def run(demo_assets, folder, *flags: str) -> tuple[list[tuple], str]:
    data_file = write_data_file(demo_assets, folder / "data", demo_records(demo_assets, 8))
    out = folder / "out"
    assert train_v2_ddp.main(train_args(demo_assets, data_file, out, "--use_lora", "--lora_rank", "4", "--lora_dropout", "0.2",
                                        "--max_steps", str(STEPS), "--save_strategy", "steps", "--save_steps", str(STEPS),
                                        *flags)) == 0
    checkpoint = out / f"checkpoint-{STEPS}"
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    losses = [(entry["step"], entry["loss"], entry["grad_norm"]) for entry in history if "loss" in entry]
    return losses, hashlib.sha256((checkpoint / "adapter_model.safetensors").read_bytes()).hexdigest()


def test_lora_losses_and_weights_are_bit_identical_with_capture_every_step_and_without(demo_assets, tmp_path):
    off = run(demo_assets, tmp_path / "off")
    spool = tmp_path / "spool"
    on = run(demo_assets, tmp_path / "on", "--enable_strategic_logging", "--strategic_logging_steps", "1",
             "--strategic_sink_address", f"ipc://{tmp_path}/nobody.sock", "--strategic_spool_dir", str(spool))
    assert len(off[0]) == STEPS
    assert on[0] == off[0]  # exact float equality, step by step
    assert on[1] == off[1]  # the same adapter weights, bit for bit
    kinds = [type(decode(record.frame)).__name__ for file in spool.glob("*.stratrec") for record in RecordingReader(file)]
    assert kinds.count("AttentionSnapshot") == STEPS  # the probe really ran (through the peft projections) every step
