"""The original training script's launch line is accepted as it is, and its LoRA and freeze
flags mean the nearest thing in transformers' HiggsAudioV2 (which has no Whisper audio tower and
no audio-encoder projection).

Run: `python -m pytest -q tests/trainer/test_original_flags.py` (about 10 s; parsing, plus the
freezing applied to the embedded checkpoint).
"""

from __future__ import annotations

import pytest
from transformers import HfArgumentParser

from stratlog.trainer.adaptation import AdaptationArguments, adapt_model
from stratlog.trainer.model import HiggsVoiceCloningModel
from stratlog.trainer.train_v2_ddp import ARGUMENT_CLASSES


def original_launch_line(demo_assets, output_dir, *extra: str) -> list[str]:
    """Every flag of the original train_v2_ddp.py's parser, with the values its users pass."""
    return [
        "--model_path", str(demo_assets.model_dir), "--audio_tokenizer_path", str(demo_assets.audio_tokenizer_dir),
        "--train_data_file", str(demo_assets.train_data_file), "--eval_data_file", str(demo_assets.train_data_file),
        "--validation_split", "0.005", "--output_dir", str(output_dir), "--num_train_epochs", "3",
        "--per_device_train_batch_size", "1", "--per_device_eval_batch_size", "1", "--learning_rate", "5e-5",
        "--warmup_steps", "100", "--logging_steps", "10", "--save_steps", "7000", "--eval_steps", "5000",
        "--lora_alpha", "32", "--lora_dropout", "0.1", "--seed", "42", "--bf16", "--report_to", "none",
        "--logging_dir", str(output_dir / "logs"), "--disable_eval", "--freeze_audio_tower", "--freeze_audio_encoder_proj",
        "--freeze_llm", "--enable_strategic_logging", "--strategic_logging_steps", "100",
        "--use_cpu", "true",  # not the original's: --bf16 is refused on a machine without a GPU unless told it is CPU
        *extra,
    ]


def parse(argv: list[str]) -> dict:
    parsed = HfArgumentParser(ARGUMENT_CLASSES).parse_args_into_dataclasses(args=argv)
    return {type(part).__name__: part for part in parsed}


def test_the_original_launch_line_parses(demo_assets, tmp_path):
    parsed = parse(original_launch_line(demo_assets, tmp_path, "--use_lora"))
    adaptation = parsed["AdaptationArguments"]
    assert adaptation.use_lora and adaptation.lora_rank == 16  # the original's default rank
    assert (adaptation.lora_alpha, adaptation.lora_dropout) == (32, 0.1)
    assert adaptation.freeze_audio_tower and adaptation.freeze_audio_encoder_proj and adaptation.freeze_llm
    training = parsed["TrainingArguments"]
    assert training.bf16 and training.per_device_train_batch_size == 1 and training.learning_rate == 5e-5
    assert parsed["DataArguments"].disable_eval and parsed["StrategicLoggingArguments"].enable_strategic_logging
    assert parse(original_launch_line(demo_assets, tmp_path, "--use_lora", "--lora_rank", "8"))["AdaptationArguments"].lora_rank == 8


def test_lora_rank_without_use_lora_is_refused():
    with pytest.raises(ValueError, match="--use_lora"):
        AdaptationArguments(lora_rank=16)


def frozen_by(demo_assets, **flags) -> set[str]:
    model = adapt_model(HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True), AdaptationArguments(**flags))
    return {name for name, p in model.named_parameters() if not p.requires_grad}


def test_freeze_llm_freezes_the_text_model_and_leaves_the_audio_path_training(demo_assets):
    frozen = frozen_by(demo_assets, freeze_llm=True)
    for name in ("model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
                 "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight", "model.norm.weight",
                 "text_lm_head.weight"):
        assert name in frozen, name
    assert not any("audio" in name for name in frozen), sorted(n for n in frozen if "audio" in n)


def test_audio_encoder_proj_maps_to_the_audio_codebook_embedding_and_audio_tower_to_nothing(demo_assets):
    frozen = frozen_by(demo_assets, freeze_audio_encoder_proj=True)
    assert frozen and all(name.startswith("model.embed_audio_tokens.") for name in frozen), frozen
    assert frozen_by(demo_assets, freeze_audio_tower=True) == set()


def test_use_lora_with_the_original_freeze_flags_trains_only_the_adapters(demo_assets):
    model = adapt_model(HiggsVoiceCloningModel.from_pretrained(demo_assets.model_dir, use_text_head=True),
                        AdaptationArguments(use_lora=True, freeze_audio_tower=True, freeze_audio_encoder_proj=True, freeze_llm=True))
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert model.peft_config["default"].r == 16


def test_help_says_what_each_original_flag_freezes(capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["train_v2_ddp.py", "--help"])
    with pytest.raises(SystemExit):
        HfArgumentParser(ARGUMENT_CLASSES).parse_args_into_dataclasses()
    text = " ".join(capsys.readouterr().out.split())
    assert "no Whisper audio tower" in text and "model.embed_audio_tokens" in text and "freeze the text LLM" in text
    assert "default 16" in text
