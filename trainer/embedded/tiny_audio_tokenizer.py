"""The embedded default's audio tokenizer: a tiny, randomly initialised `HiggsAudioV2TokenizerModel`.

The real Higgs audio tokenizer (DAC acoustic codec + HuBERT semantic model, 8 residual codebooks of
1024 codes, 25 frames/s at 24 kHz) cannot be downloaded here. This builds the same transformers class
at a tiny size with the same external contract: 24 kHz mono in, [batch, 8, frames] codes in
[0, 1024) out at 25 frames/s (hop 960 = 8*5*4*2*3), and saves it with `save_pretrained` together with
the `DacFeatureExtractor` a real tokenizer folder holds, so it loads through the same
`from_pretrained` path as a real one.

At random initialisation its codes carry no voice identity, so before saving, `codec_fitting`
trains its encode path on synthetic speech and fits its codebooks (that module says why and how);
the codebooks are persistent buffers, so the fitted ones survive save/load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stratlog.trainer.embedded.codec_fitting import CodecFitSettings, fit_codec
from stratlog.trainer.torchaudio_standin import install_if_missing

install_if_missing()  # before the first lookup of HiggsAudioV2TokenizerModel (see that module)

from transformers import (  # noqa: E402  (needs torchaudio, real or stand-in)
    DacConfig,
    DacFeatureExtractor,
    HiggsAudioV2TokenizerConfig,
    HiggsAudioV2TokenizerModel,
    HubertConfig,
)


@dataclass(frozen=True)
class TinyAudioTokenizerSettings:
    """Shape of the tiny codec; the defaults give 8 codebooks x 1024 codes at 25 frames/s."""

    sample_rate: int = 24000
    """Input rate in Hz, as the real tokenizer."""
    ratios: tuple[int, ...] = (8, 5, 4, 2, 3)
    """DAC down- and up-sampling ratios; their product (960) is the hop: 24000 / 960 = 25 frames/s."""
    encoder_hidden_size: int = 16
    """DAC encoder width at the input; it doubles per ratio (16 -> 512 channels) and holds most of the
    weights; 16 keeps encoding the demo clips about 3x faster than 32."""
    acoustic_hidden_size: int = 32
    """Width of the DAC latent fed to the quantizer."""
    decoder_hidden_size: int = 64
    """DAC decoder width at its input; it halves per ratio."""
    semantic_hidden_size: int = 32
    """HuBERT width (its 7 feature-extractor convolutions keep HuBERT's total stride 320 = 20 ms at 16 kHz)."""
    semantic_layers: int = 2
    """HuBERT transformer layers."""
    codebook_size: int = 1024
    """Codes per codebook, as the real tokenizer; the model's codebook_size is this + 2."""
    codebook_dim: int = 16
    """Dimension of each codebook entry."""
    target_bandwidths: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    """kbps; the last one fixes the number of quantizers: 2000 / (25 frames/s * 10 bits) = 8."""
    seed: int = 1234
    """Seed for the random initial weights (the fitting has its own, CodecFitSettings.seed)."""

    def __post_init__(self) -> None:
        if self.codebook_size & (self.codebook_size - 1):
            raise ValueError(
                f"TinyAudioTokenizerSettings.codebook_size must be a power of two, got {self.codebook_size}"
            )


def tiny_audio_tokenizer_config(settings: TinyAudioTokenizerSettings) -> HiggsAudioV2TokenizerConfig:
    acoustic = DacConfig(
        encoder_hidden_size=settings.encoder_hidden_size,
        hidden_size=settings.acoustic_hidden_size,
        decoder_hidden_size=settings.decoder_hidden_size,
        downsampling_ratios=list(settings.ratios),
        upsampling_ratios=list(settings.ratios),
        sampling_rate=settings.sample_rate,
    )
    semantic = HubertConfig(
        hidden_size=settings.semantic_hidden_size,
        num_hidden_layers=settings.semantic_layers,
        num_attention_heads=2,
        intermediate_size=2 * settings.semantic_hidden_size,
        conv_dim=(settings.semantic_hidden_size,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        mask_time_prob=0.0,
    )
    return HiggsAudioV2TokenizerConfig(
        acoustic_model_config=acoustic,
        semantic_model_config=semantic,
        sample_rate=settings.sample_rate,
        codebook_size=settings.codebook_size,
        codebook_dim=settings.codebook_dim,
        target_bandwidths=list(settings.target_bandwidths),
    )


def build_tiny_audio_tokenizer(settings: TinyAudioTokenizerSettings) -> HiggsAudioV2TokenizerModel:
    """The untrained tiny tokenizer: fixed-seed random weights, all-zero codebooks (every frame -> code 0)."""
    torch.manual_seed(settings.seed)
    return HiggsAudioV2TokenizerModel(tiny_audio_tokenizer_config(settings)).eval()


def save_tiny_audio_tokenizer(settings: TinyAudioTokenizerSettings, fitting_clips: list[np.ndarray],
                              directory: Path) -> HiggsAudioV2TokenizerModel:
    """Build, fit to `fitting_clips` (float32 mono at settings.sample_rate), then save weights,
    config and the DAC feature extractor into `directory`."""
    model = build_tiny_audio_tokenizer(settings)
    fit_codec(model, fitting_clips, CodecFitSettings())
    model.save_pretrained(directory)
    feature_extractor = DacFeatureExtractor(sampling_rate=settings.sample_rate, hop_length=math.prod(settings.ratios))
    feature_extractor.save_pretrained(directory)
    return model
