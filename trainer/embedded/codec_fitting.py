"""Fit the tiny audio tokenizer to synthetic speech so that its codes keep the speaker's voice.

Why: at random initialisation the Higgs audio tokenizer throws voice identity away before it
quantizes. Measured on the demo voices (8 speakers, frame-level linear classifier): the log
spectrum of a 40 ms frame names the speaker 70 % of the time, the random tokenizer's pre-quantizer
embedding 14.6 % (chance 12.5 %): its DAC branch outputs ~2e-4 (dead), and its HuBERT branch
normalises each channel over the whole clip, which removes exactly the stable spectral shape that
makes a voice. Codes without voice identity make zero-shot voice cloning unmeasurable, so the
demo codec is trained briefly, the way a real codec is, to keep the spectrum:

1. the encode path that feeds the quantizer (HuBERT, its semantic encoder and `fc`) learns to
   predict each frame's standardised log-mel spectrum through a throw-away linear head (the DAC
   branch's `fc` inputs are zeroed: it is too slow to train on 2 cores and carries nothing);
2. each residual quantizer stage gets `project_in` / `project_out` = the top principal directions
   of what is left to quantize, and `codes_used` k-means centroids as its first codebook entries
   (k-means is also how these codebooks start in real codec training). The other entries sit far
   away and are never chosen, so each codebook speaks a `codes_used`-code alphabet.

Result on held-out demo-style clips: the speaker's code distribution predicts codebook 0 0.6-0.9
nats per frame better than the pooled distribution (the random tokenizer: 0.0). Everything is
seeded and runs on one thread, so a build is repeatable on a machine; the decoder stays random
(the demo never turns codes back into audio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stratlog.trainer.torchaudio_standin import install_if_missing

install_if_missing()

import torchaudio  # noqa: E402  (real or stand-in; transformers' tokenizer resamples with it too)

FAR_AWAY = 1.0e4
"""Coordinate of the unused codebook entries: no embedding comes near them."""


@dataclass(frozen=True)
class CodecFitSettings:
    steps: int = 600
    """Optimizer steps of the spectrum-prediction training (about 40 s on one core)."""
    batch_size: int = 16
    crop_frames: int = 25
    """Each training example is a 1 s crop (25 frames) of a clip."""
    learning_rate: float = 3e-3
    mel_bins: int = 64
    codes_used: int = 64
    """Centroids per codebook; the tiny language model learns a 64-code alphabet far faster than 1024."""
    kmeans_iterations: int = 25
    seed: int = 99


def log_mel_frames(audio: np.ndarray, sample_rate: int, hop: int, bins: int) -> np.ndarray:
    """[frames, bins] log-mel power of 2-hop windows centred on each tokenizer frame (one per `hop`)."""
    frames = len(audio) // hop
    window = 2 * hop
    padded = np.pad(audio, (hop // 2, window))
    chunks = np.stack([padded[t * hop : t * hop + window] for t in range(frames)]) * np.hanning(window)
    power = np.abs(np.fft.rfft(chunks, 2 * window)) ** 2
    mel = 2595 * np.log10(1 + np.fft.rfftfreq(2 * window, 1 / sample_rate) / 700)
    edges = np.linspace(0, mel.max(), bins + 2)
    filters = np.maximum(0, 1 - np.abs(mel[None] - edges[1:-1, None]) / (edges[1] - edges[0]))
    return np.log(power @ filters.T + 1e-5).astype(np.float32)


def quantizer_inputs(model, waveforms: torch.Tensor) -> torch.Tensor:
    """[batch, frames, hidden] embeddings the quantizer sees, with gradients, for [batch, 1, samples]
    input: the semantic half of `HiggsAudioV2TokenizerModel.encode` (the acoustic half gets zero
    weight in `fc`)."""
    config = model.config
    resampled = torchaudio.functional.resample(waveforms[:, 0], config.sample_rate, config.semantic_sample_rate)
    hidden = model.semantic_model(F.pad(resampled, (160, 160)), output_hidden_states=True).hidden_states
    semantic = torch.stack(hidden, dim=1).mean(dim=1)[:, :: config.semantic_downsample_factor]
    encoded = model.encoder_semantic(semantic.transpose(1, 2))
    acoustic = encoded.new_zeros(encoded.shape[0], config.acoustic_model_config.hidden_size, encoded.shape[2])
    return model.fc(torch.cat([acoustic, encoded], dim=1).transpose(1, 2))


def _train_spectrum_prediction(model, clips: list[np.ndarray], settings: CodecFitSettings) -> None:
    config = model.config
    hop = config.hop_length
    targets = [log_mel_frames(clip, config.sample_rate, hop, settings.mel_bins) for clip in clips]
    stacked = np.concatenate(targets)
    mean, std = stacked.mean(0), stacked.std(0) + 1e-6
    head = torch.nn.Linear(config.hidden_size, settings.mel_bins)
    with torch.no_grad():
        model.fc.weight[:, : config.acoustic_model_config.hidden_size] = 0.0
    trained = [*model.semantic_model.parameters(), *model.encoder_semantic.parameters(), *model.fc.parameters()]
    optimizer = torch.optim.Adam([*trained, *head.parameters()], lr=settings.learning_rate)
    rng = np.random.default_rng(settings.seed)
    crop = settings.crop_frames * hop
    for _ in range(settings.steps):
        audio = np.zeros((settings.batch_size, crop), np.float32)
        wanted = np.zeros((settings.batch_size, settings.crop_frames, settings.mel_bins), np.float32)
        for row, index in enumerate(rng.integers(len(clips), size=settings.batch_size)):
            start = int(rng.integers(0, max(1, len(targets[index]) - settings.crop_frames + 1)))
            piece = clips[index][start * hop : start * hop + crop]
            audio[row, : len(piece)] = piece
            frames = (targets[index][start : start + settings.crop_frames] - mean) / std
            wanted[row, : len(frames)] = frames
        predicted = head(quantizer_inputs(model, torch.from_numpy(audio)[:, None]))
        frames = min(predicted.shape[1], settings.crop_frames)
        loss = F.mse_loss(predicted[:, :frames], torch.from_numpy(wanted[:, :frames]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()  # the zeroed acoustic columns see zero inputs, so zero gradients: they stay 0


def _kmeans(points: np.ndarray, count: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    centroids = points[rng.choice(len(points), count, replace=False)].copy()
    for _ in range(iterations):
        nearest = _nearest(points, centroids)
        for k in range(count):
            members = points[nearest == k]
            if len(members):
                centroids[k] = members.mean(0)
    return centroids


def _nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    distances = (points**2).sum(1)[:, None] - 2 * points @ centroids.T + (centroids**2).sum(1)[None]
    return distances.argmin(1)


def _fit_quantizer(model, clips: list[np.ndarray], settings: CodecFitSettings) -> None:
    with torch.no_grad():
        residual = np.concatenate([quantizer_inputs(model, torch.from_numpy(clip)[None, None])[0].numpy() for clip in clips])
    rng = np.random.default_rng(settings.seed)
    for stage in model.quantizer.quantizers:
        centre = residual.mean(0)
        directions = np.linalg.svd(residual - centre, full_matrices=False)[2][: stage.project_in.out_features]
        projected = (residual - centre) @ directions.T
        centroids = _kmeans(projected, settings.codes_used, settings.kmeans_iterations, rng)
        codebook = np.full(tuple(stage.codebook.embed.shape), FAR_AWAY, np.float32)
        codebook[: settings.codes_used] = centroids
        with torch.no_grad():
            stage.project_in.weight.copy_(torch.from_numpy(directions))
            stage.project_in.bias.copy_(torch.from_numpy(-directions @ centre))
            stage.project_out.weight.copy_(torch.from_numpy(directions.T.copy()))
            stage.project_out.bias.copy_(torch.from_numpy(centre))
            stage.codebook.embed.copy_(torch.from_numpy(codebook))
            stage.codebook.embed_avg.copy_(torch.from_numpy(codebook))
            stage.codebook.cluster_size.fill_(1.0)
        residual = residual - (centroids[_nearest(projected, centroids)] @ directions + centre)


def fit_codec(model, clips: list[np.ndarray], settings: CodecFitSettings) -> None:
    """Train `model`'s encode path on `clips` (float32 mono at its sample rate) and fit its quantizer.

    One thread and fixed seeds: the same clips give the same weights on a machine."""
    if not clips:
        raise ValueError("fit_codec: no clips to fit the codec on")
    if settings.codes_used > model.config.codebook_size:
        raise ValueError(f"CodecFitSettings.codes_used ({settings.codes_used}) exceeds the codebook size "
                         f"({model.config.codebook_size})")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(settings.seed)
        _train_spectrum_prediction(model, clips, settings)
        _fit_quantizer(model, clips, settings)
    finally:
        torch.set_num_threads(threads)
    model.eval()
