"""Speaker embeddings: resemblyzer's GE2E encoder, from the optional extra `stratlog[voice]`.

Why this model: its weights ship inside the resemblyzer wheel on PyPI, so it runs offline on CPU
with nothing fetched at run time (no hub). Its embeddings are L2-normalised and non-negative (a
ReLU before the norm), so the cosine of two clips is their dot product and lies in [0, 1].
"""

from __future__ import annotations

import importlib.util

import numpy as np

EMBEDDING_SAMPLE_RATE = 16000
"""The rate GE2E was trained at; clips are resampled to it before embedding."""

VOICE_EXTRA_MISSING = "speaker embeddings need the optional extra: pip install 'stratlog[voice]'"


def voice_extra_installed() -> bool:
    return importlib.util.find_spec("resemblyzer") is not None


class SpeakerEmbedder:
    """Embeds mono 16 kHz clips; the encoder loads once per process (a few seconds)."""

    def __init__(self) -> None:
        if not voice_extra_installed():
            raise RuntimeError(VOICE_EXTRA_MISSING)
        from resemblyzer import VoiceEncoder, preprocess_wav

        self._preprocess = preprocess_wav
        self._encoder = VoiceEncoder("cpu", verbose=False)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """A 256-d unit vector for one clip. Silence trimming may leave nothing of a very short
        or quiet clip; the untrimmed clip is embedded then."""
        trimmed = self._preprocess(np.asarray(audio, dtype=np.float32), source_sr=EMBEDDING_SAMPLE_RATE)
        return self._encoder.embed_utterance(trimmed if trimmed.size else audio)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Of two unit embeddings, clipped into [0, 1] against float rounding."""
    return float(np.clip(np.dot(a, b), 0.0, 1.0))
