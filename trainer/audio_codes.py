"""Audio codes for every clip, encoded once with the checkpoint's audio tokenizer and cached.

Encoding is the slow part of data preparation, and the codes only change when the audio file
or the tokenizer changes; so the cache key is the file's content hash plus the tokenizer's
identity (a hash of its config and weights). Audio is read with soundfile, mixed to mono and
resampled with soxr to the tokenizer's rate, so 16/22.05/44.1/48 kHz data goes through.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

from trainer.samples import SampleError


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: the part of a cache key that changes when the file does."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tokenizer_identity(audio_tokenizer_dir: Path) -> str:
    """A short hash of the tokenizer folder's config and weights: a new tokenizer, new codes."""
    digest = hashlib.sha256()
    for path in sorted(Path(audio_tokenizer_dir).iterdir()):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin"}:
            digest.update(path.name.encode())
            digest.update(file_digest(path).encode())
    return digest.hexdigest()[:16]


def load_audio(path: Path, sample_rate: int, *, sample_id: str = "?") -> np.ndarray:
    """Mono float32 audio at `sample_rate`; unreadable files raise SampleError naming the file."""
    if not path.is_file():
        raise SampleError(sample_id, path, "audio file not found")
    try:
        audio, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise SampleError(sample_id, path, f"unreadable or corrupt audio: {error}") from None
    audio = audio.mean(axis=1)
    if audio.size == 0:
        raise SampleError(sample_id, path, "audio file holds no samples")
    if source_rate != sample_rate:
        audio = soxr.resample(audio, source_rate, sample_rate, quality="HQ").astype(np.float32)
    return audio


class AudioCodeCache:
    """Encodes clips to [num_codebooks, frames] int16 codes, reusing codes cached on disk."""

    def __init__(self, audio_tokenizer, audio_tokenizer_dir: Path, cache_dir: Path):
        self.audio_tokenizer = audio_tokenizer.eval()
        self.sample_rate = int(audio_tokenizer.config.sample_rate)
        self.folder = Path(cache_dir) / tokenizer_identity(Path(audio_tokenizer_dir))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.encoded_count = 0

    def codes_for(self, audio_path: Path, *, sample_id: str = "?") -> np.ndarray:
        entry = self.folder / f"{file_digest(audio_path)}.npy" if audio_path.is_file() else None
        if entry is not None and entry.is_file():
            return np.load(entry)
        codes = self._encode(load_audio(audio_path, self.sample_rate, sample_id=sample_id))
        temporary = self.folder / f".{entry.name}.tmp.npy"
        np.save(temporary, codes)
        temporary.replace(entry)  # atomic: a concurrent reader never sees half a file
        return codes

    @torch.no_grad()
    def _encode(self, audio: np.ndarray) -> np.ndarray:
        self.encoded_count += 1
        waveform = torch.from_numpy(audio)[None, None, :]
        codes = self.audio_tokenizer.encode(waveform, return_dict=False)
        return codes[0].to(torch.int16).numpy()
