"""The shipped sharding configs (examples/sharding/) as transformers and DeepSpeed read them, and
the combinations the trainer refuses before loading anything. Fast: no process is launched."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
from transformers import HiggsAudioV2Config, TrainingArguments
from transformers.models.higgs_audio_v2 import modeling_higgs_audio_v2

from stratlog.trainer.sharding import sharding_refusal
from stratlog.trainer.strategic.arguments import StrategicLoggingArguments

EXAMPLES = Path(__file__).parents[2] / "examples" / "sharding"


def test_fsdp_config_is_fsdp2_full_shard_wrapping_the_higgs_decoder_layer(monkeypatch, tmp_path):
    monkeypatch.setenv("FSDP_CPU_RAM_EFFICIENT_LOADING", "")  # TrainingArguments writes it; restored after
    plugin = TrainingArguments(output_dir=str(tmp_path), fsdp=True, fsdp_config=str(EXAMPLES / "fsdp.json"), use_cpu=True).fsdp_plugin_args
    wrapped = plugin["transformer_cls_names_to_wrap"]
    assert wrapped == "HiggsAudioV2DecoderLayer" and isinstance(getattr(modeling_higgs_audio_v2, wrapped), type)
    assert plugin["fsdp_version"] == 2 and plugin["reshard_after_forward"] is True  # FULL_SHARD
    assert plugin["state_dict_type"] == "SHARDED_STATE_DICT"  # what the resume test saves and loads


def logging_args(**flags) -> StrategicLoggingArguments:
    return StrategicLoggingArguments(enable_strategic_logging=True, **flags)


def fsdp_args(version: int = 2) -> SimpleNamespace:
    return SimpleNamespace(fsdp=True, fsdp_config={"version": version}, deepspeed=None)


def test_sharding_refuses_what_would_hang_or_log_wrong_and_names_the_flag():
    assert sharding_refusal(fsdp_args(), logging_args()) == ""
    assert sharding_refusal(SimpleNamespace(fsdp=None, fsdp_config=None, deepspeed=None), logging_args(strategic_ranks="0")) == ""
    assert "--strategic_ranks 0" in sharding_refusal(fsdp_args(), logging_args(strategic_ranks="0"))
    assert "FSDP1" in sharding_refusal(fsdp_args(version=1), logging_args())
    deepspeed = SimpleNamespace(fsdp=None, fsdp_config=None, deepspeed=str(EXAMPLES / "zero2.json"))
    assert "--deepspeed" in sharding_refusal(deepspeed, logging_args())
    assert sharding_refusal(deepspeed, StrategicLoggingArguments(enable_strategic_logging=False)) == ""


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                    reason="deepspeed is not installed (it comes with the dev extras: pip install -e '.[dev]')")
@pytest.mark.parametrize("name, stage", [("zero2.json", 2), ("zero3.json", 3)])
def test_zero_configs_pass_deepspeeds_own_validator(name, stage, tmp_path):
    """transformers fills the "auto" values as Trainer does (the hidden-size ones from the full-size
    Higgs config), then DeepSpeed's pydantic config classes validate the result."""
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, gradient_accumulation_steps=4, bf16=True,
                             use_cpu=True)
    config = HfTrainerDeepSpeedConfig(str(EXAMPLES / name))
    config.trainer_config_process(args)
    config.trainer_config_finalize(args, SimpleNamespace(config=HiggsAudioV2Config()), num_training_steps=10)
    validated = DeepSpeedConfig(config.config)
    assert validated.zero_optimization_stage == stage
    assert validated.gradient_accumulation_steps == 4 and validated.train_micro_batch_size_per_gpu == 2
