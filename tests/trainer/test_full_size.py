"""The full-size recipe: transformers' default 3B shape with ids and codebook size taken from
real tokenizers; and the writer round-trips through `from_pretrained` (checked on a small
override of the shape, since 5.77 B random parameters do not belong in a CPU test).

Run: `python -m pytest -q tests/trainer/test_full_size.py` (a few seconds).
"""

from __future__ import annotations

import json

import torch
from transformers import AutoTokenizer

from stratlog.trainer.full_size import full_size_config, write_random_checkpoint
from stratlog.trainer.model import HiggsVoiceCloningModel


def test_config_has_the_3b_shape_and_matches_the_tokenizers(demo_assets):
    config = full_size_config(demo_assets.model_dir, demo_assets.audio_tokenizer_dir)
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.vocab_size) == (3072, 28, 8192, 128256)
    codec = json.loads((demo_assets.audio_tokenizer_dir / "config.json").read_text())
    assert config.codebook_size == codec["codebook_size"] + 2 == 1026
    assert (config.audio_stream_bos_id, config.audio_stream_eos_id) == (1024, 1025)
    tokenizer = AutoTokenizer.from_pretrained(demo_assets.model_dir)
    assert tokenizer.convert_ids_to_tokens(config.audio_token_id) == "<|AUDIO_OUT|>"
    assert tokenizer.convert_ids_to_tokens(config.audio_bos_token_id) == "<|audio_out_bos|>"


def test_written_checkpoint_loads_with_its_text_head(demo_assets, tmp_path):
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                 head_dim=16, vocab_size=2048)
    config = full_size_config(demo_assets.model_dir, demo_assets.audio_tokenizer_dir, **small)
    write_random_checkpoint(config, demo_assets.model_dir, tmp_path)
    model = HiggsVoiceCloningModel.from_pretrained(tmp_path, use_text_head=True)
    assert model.text_lm_head is not None and model.dtype == torch.bfloat16  # stored as real checkpoints are
    assert HiggsVoiceCloningModel.for_training(tmp_path).dtype == torch.float32  # trained with fp32 master weights
    assert AutoTokenizer.from_pretrained(tmp_path).convert_ids_to_tokens(model.config.audio_token_id) == "<|AUDIO_OUT|>"
