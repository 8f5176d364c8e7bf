"""A checkpoint stored in bf16 trains with fp32 master weights: 10 steps of train_v2_ddp.main at
lr 2e-5 with --bf16 move every parameter as fp32 AdamW does, replayed here by hand on the same
batches (bf16 autocast, torch.optim.AdamW on fp32 weights). And --pure_bf16 shows the cost its
--help states: weights of 1.0 (the norms) never move at that lr.

Run: `python -m pytest -q tests/trainer/test_mixed_precision.py` (about 40 s; two in-process runs of
10 steps). No GPU: CPU autocast to bf16 ("cpu" device type) is the same mechanism as on CUDA.
Seeded (--seed 42); the replay takes each step's samples from --record_sample_ids.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, HfArgumentParser

from stratlog.trainer import train_v2_ddp
from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.sequences import AudioTokenIds, SequenceBuilder
from stratlog.trainer.data.setup import load_training_data
from stratlog.trainer.loss import compute_loss
from stratlog.trainer.model import HiggsVoiceCloningModel
from stratlog.trainer.sample_ids import read_sample_ids
from tests.trainer.data_files import demo_records, train_args, write_data_file

STEPS, LEARNING_RATE = 10, 2e-5


@pytest.fixture(scope="module")
def bf16_checkpoint(demo_assets, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bf16-checkpoint")
    HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True).to(torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(demo_assets.model_dir).save_pretrained(folder)
    return folder


def run(demo_assets, checkpoint: Path, folder: Path, *extra: str) -> tuple[list[str], Path]:
    data_file = write_data_file(demo_assets, folder / "data", demo_records(demo_assets, 8))
    argv = train_args(demo_assets, data_file, folder / "out", "--model_path", str(checkpoint), "--learning_rate", str(LEARNING_RATE),
                      "--bf16", "--max_steps", str(STEPS), "--lr_scheduler_type", "constant", "--max_grad_norm", "0",
                      "--save_strategy", "steps", "--save_steps", str(STEPS), "--record_sample_ids", *extra)
    assert train_v2_ddp.main(argv) == 0
    return argv, folder / "out"


def replay_fp32_adamw(argv: list[str], output_dir: Path, checkpoint: Path) -> dict[str, torch.Tensor]:
    """The run's steps by hand: fp32 weights, bf16 autocast, torch AdamW (Trainer's defaults:
    betas (0.9, 0.999), eps 1e-8, no weight decay), each step on the samples the run recorded."""
    model_args, data_args, *_, training_args = HfArgumentParser(train_v2_ddp.ARGUMENT_CLASSES).parse_args_into_dataclasses(args=argv)
    model = HiggsVoiceCloningModel.from_pretrained(checkpoint, use_text_head=True, dtype=torch.float32).train()
    ids = AudioTokenIds.from_config(model.config)
    data = load_training_data(model_args, data_args, training_args, SequenceBuilder(AutoTokenizer.from_pretrained(checkpoint), ids))
    examples = {example.sample_id: example for example in data.train.examples}
    collate = VoiceCloningCollator(ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    for record in read_sample_ids(output_dir / "sample_ids" / "rank0.jsonl"):
        batch = collate([examples[sample_id] for sample_id in record["sample_ids"]])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = compute_loss(model(**batch)).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {name: p.detach() for name, p in model.named_parameters()}


def test_bf16_checkpoint_trains_as_fp32_adamw(demo_assets, bf16_checkpoint, tmp_path):
    argv, output_dir = run(demo_assets, bf16_checkpoint, tmp_path)
    initial = {name: p.float() for name, p in load_file(bf16_checkpoint / "model.safetensors").items()}
    trained = load_file(output_dir / f"checkpoint-{STEPS}" / "model.safetensors")
    assert all(t.dtype == torch.float32 for t in trained.values()), "master weights must be fp32"
    expected = replay_fp32_adamw(argv, output_dir, bf16_checkpoint)
    assert len(read_sample_ids(output_dir / "sample_ids" / "rank0.jsonl")) == STEPS
    for name, reference in expected.items():
        moved = reference - initial[name]
        assert moved.abs().max() > 0, f"{name}: fp32 AdamW leaves it unchanged (no gradient?)"
        # The run and the replay compute the same steps; what may differ is bf16 rounding inside the
        # autocast matmuls (operation order), far below one bf16 step of the weight itself.
        bf16_step = initial[name].abs().clamp(min=2.0**-14) * 2.0**-8
        assert ((trained[name] - reference).abs() <= bf16_step).all(), name
        torch.testing.assert_close(trained[name] - initial[name], moved, rtol=0.05, atol=LEARNING_RATE / 10)


def test_pure_bf16_keeps_bf16_weights_and_loses_small_updates(demo_assets, bf16_checkpoint, tmp_path):
    _, output_dir = run(demo_assets, bf16_checkpoint, tmp_path, "--pure_bf16")
    initial = load_file(bf16_checkpoint / "model.safetensors")
    trained = load_file(output_dir / f"checkpoint-{STEPS}" / "model.safetensors")
    assert all(t.dtype == torch.bfloat16 for t in trained.values())
    norms = [name for name in trained if name.endswith("layernorm.weight") or name.endswith("norm.weight")]
    assert norms and all(torch.equal(trained[name], initial[name]) for name in norms), "lr 2e-5 is below half a bf16 step at 1.0"
