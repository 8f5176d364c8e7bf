"""The decoding process of `stratlog sink/replay --audio-tokenizer` (sink.audio_clips): the run's
audio tokenizer turns each capture's codes into WAV files, and with stratlog[voice] the pair check's
speaker encoder scores SIM. It loads torch, transformers and the trainer's audio helpers, which the
sink's own layer never imports, so it lives here, above both, and the sink is handed it as the
child's work (`audio_clips`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from stratlog.sink.audio_clips import AudioClips, append_sim_row, write_wav


def audio_clips(audio_tokenizer_dir: str | Path, log_dir: Path) -> AudioClips:
    """The sink's side, its child decoding with the audio tokenizer in `audio_tokenizer_dir`."""
    return AudioClips(partial(decode_forever, str(audio_tokenizer_dir)), log_dir)


class ClipDecoder:
    """The run's audio tokenizer, loaded in the decoding process."""

    def __init__(self, audio_tokenizer_dir: str):
        from stratlog.trainer import torchaudio_standin

        torchaudio_standin.install_if_missing()
        from transformers import HiggsAudioV2TokenizerModel

        self.model = HiggsAudioV2TokenizerModel.from_pretrained(audio_tokenizer_dir).eval()
        self.sample_rate = int(self.model.config.sample_rate)
        self.codec_size = int(self.model.config.codebook_size)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """[C, T] codes -> mono float waveform; a predicted code outside the codec (a stream
        BOS/EOS guess) is played as code 0."""
        import torch

        valid = np.where((codes >= 0) & (codes < self.codec_size), codes, 0)
        with torch.no_grad():
            audio = self.model.decode(torch.from_numpy(valid)[None], return_dict=False)
        return audio[0].mean(0).float().numpy()


class SimScorer:
    """SIM as cloning papers report it: the speaker-embedding cosine of the reference and the
    decoded prediction (and of the reference and the decoded target, the ceiling the codec allows),
    with the pair check's GE2E encoder; only where the optional extra `stratlog[voice]` is installed."""

    def __init__(self, sample_rate: int):
        from stratlog.trainer.data.speaker_embedding import EMBEDDING_SAMPLE_RATE, SpeakerEmbedder

        self.embedder = SpeakerEmbedder()
        self.sample_rate, self.embedding_rate = sample_rate, EMBEDDING_SAMPLE_RATE

    def scores(self, audio: dict[str, np.ndarray]) -> dict[str, float]:
        import soxr

        from stratlog.trainer.data.speaker_embedding import cosine

        if "reference" not in audio:
            return {}
        embed = {role: self.embedder.embed(soxr.resample(clip, self.sample_rate, self.embedding_rate).astype(np.float32))
                 for role, clip in audio.items()}
        return {f"sim_reference_{role}": round(cosine(embed["reference"], embed[role]), 4)
                for role in ("predicted", "target") if role in embed}


def decode_forever(audio_tokenizer_dir: str, jobs, results) -> None:
    """The child process: decode each capture's clips (and score SIM where it can) until the None
    that ends the queue."""
    try:
        decoder = ClipDecoder(audio_tokenizer_dir)
    except Exception as error:  # noqa: BLE001 - any failure to load is reported, not raised in a child
        results.put(("error", f"cannot load the audio tokenizer {audio_tokenizer_dir}: {error}"))
        return
    from stratlog.trainer.data.speaker_embedding import voice_extra_installed

    scorer = SimScorer(decoder.sample_rate) if voice_extra_installed() else None
    while (job := jobs.get()) is not None:
        folder, capture, names_and_codes = job
        audio, files = {}, {}
        for role, name, codes in names_and_codes:
            try:
                audio[role] = decoder.decode(codes)
                write_wav(Path(folder) / name, audio[role], decoder.sample_rate)
                files[role] = name
            except Exception as error:  # noqa: BLE001 - one clip's failure must not end the others
                results.put(("error", f"{name}: {error}"))
        if files:  # for --report-to's audio summaries
            results.put(("clips", {**capture, "files": files}))
        if scorer is not None:
            try:
                scores = scorer.scores(audio)
            except Exception as error:  # noqa: BLE001
                results.put(("error", f"SIM of {capture}: {error}"))
                continue
            if scores:
                append_sim_row(Path(folder), {**capture, **scores})
                results.put(("sim", {**capture, **scores}))
