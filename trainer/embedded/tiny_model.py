"""The embedded default's model: a tiny, randomly initialised `HiggsAudioV2ForConditionalGeneration`.

The real model (3B base, 5.77 B parameters with the text head) cannot be downloaded here, and would
not train on a 2-core CPU anyway. This builds transformers' own class at a tiny width with the text
head on, wired to the embedded text tokenizer (vocabulary size and special token ids read from it)
and to the tiny audio tokenizer (8 codebooks; codebook_size = codec size + 2, because the audio
stream BOS = codec size and EOS = codec size + 1 live inside the audio embedding and head). It is
saved with `save_pretrained`, tokenizer alongside, so the demo loads it exactly like a real checkpoint:
`from_pretrained(model_dir, use_text_head=True)` (without that flag the text head is silently dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import HiggsAudioV2Config, HiggsAudioV2ForConditionalGeneration, PreTrainedTokenizerBase

from stratlog.protocol.higgs_tokens import AUDIO_DELAY, AUDIO_OUT, AUDIO_OUT_BOS
from stratlog.trainer.data.sequences import audio_vocabulary


@dataclass(frozen=True)
class TinyModelSettings:
    """Width and depth of the tiny model; the ids come from the tokenizer and the codec."""

    hidden_size: int = 64
    """Residual stream width."""
    num_hidden_layers: int = 4
    """Decoder layers (each with the DualFFN audio path)."""
    num_attention_heads: int = 4
    """Query heads; num_attention_heads * head_dim == hidden_size."""
    num_key_value_heads: int = 2
    """Key/value heads (grouped-query attention, as the real model)."""
    head_dim: int = 16
    """Width of one attention head."""
    intermediate_size: int = 128
    """MLP width."""
    max_position_embeddings: int = 1024
    """Longest sequence the demo trains on, text and audio positions together."""
    seed: int = 4321
    """Seed for the weight initialisation."""

    def __post_init__(self) -> None:
        if self.num_attention_heads * self.head_dim != self.hidden_size:
            raise ValueError(
                "TinyModelSettings.num_attention_heads * TinyModelSettings.head_dim must equal "
                f"TinyModelSettings.hidden_size, got {self.num_attention_heads} * {self.head_dim} != {self.hidden_size}"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                "TinyModelSettings.num_attention_heads must be a multiple of TinyModelSettings.num_key_value_heads, "
                f"got {self.num_attention_heads} and {self.num_key_value_heads}"
            )


def tiny_model_config(
    settings: TinyModelSettings, tokenizer: PreTrainedTokenizerBase, num_codebooks: int, codec_size: int
) -> HiggsAudioV2Config:
    """Config whose ids match `tokenizer` and whose audio vocabulary matches the codec."""
    token_id = tokenizer.convert_tokens_to_ids
    return HiggsAudioV2Config(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_hidden_layers,
        num_attention_heads=settings.num_attention_heads,
        num_key_value_heads=settings.num_key_value_heads,
        head_dim=settings.head_dim,
        max_position_embeddings=settings.max_position_embeddings,
        # Plain RoPE: the default llama3 scaling assumes 1024 original positions, meaningless here.
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        num_codebooks=num_codebooks,
        **audio_vocabulary(codec_size),
        # The model and the processor's defaults use the audio-OUT family for every audio segment.
        audio_token_id=token_id(AUDIO_OUT),
        audio_bos_token_id=token_id(AUDIO_OUT_BOS),
        audio_delay_token_id=token_id(AUDIO_DELAY),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def build_tiny_model(config: HiggsAudioV2Config, seed: int) -> HiggsAudioV2ForConditionalGeneration:
    """Fixed-seed random weights, text head included."""
    torch.manual_seed(seed)
    return HiggsAudioV2ForConditionalGeneration(config, use_text_head=True)


def save_tiny_model(
    settings: TinyModelSettings,
    tokenizer: PreTrainedTokenizerBase,
    num_codebooks: int,
    codec_size: int,
    directory: Path,
) -> HiggsAudioV2ForConditionalGeneration:
    """Build and save model and tokenizer into one directory, the layout of a real checkpoint."""
    model = build_tiny_model(tiny_model_config(settings, tokenizer, num_codebooks, codec_size), settings.seed)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model
