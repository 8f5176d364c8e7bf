"""`stratlog tokenize`: encode every clip of a data file into the audio-code cache up front.

Training encodes what is missing by itself; doing it first (with a progress bar) keeps the
encoding out of the GPU job and tells how much of a data set is already cached. Each distinct
clip is encoded once even when many samples share it. Bad samples are listed, not fatal here:
training decides (stop, or `--skip_bad_samples`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from stratlog.trainer.data.audio_codes import AudioCodeCache, default_audio_codes_dir
from stratlog.trainer.data.samples import AudioClip, SampleError, load_samples
from stratlog.trainer.data.validation import ClipLimits, validate_samples


@dataclass
class TokenizeReport:
    encoded: int = 0
    reused: int = 0
    errors: list[SampleError] = field(default_factory=list)

    def summary(self) -> str:
        return f"audio codes: {self.encoded} encoded, {self.reused} reused from the cache, {len(self.errors)} bad sample(s)"


def tokenize_data(data_file: Path, codes: AudioCodeCache, limits: ClipLimits, *, show_progress: bool = True) -> TokenizeReport:
    report = validate_samples(load_samples(data_file), limits, codes.sample_rate)
    clips: dict[AudioClip, str] = {}
    for sample in report.valid:
        for clip in (sample.ref_audio, sample.target_audio):
            clips.setdefault(clip, sample.sample_id)
    result = TokenizeReport(errors=list(report.rejected))
    before = (codes.encoded_count, codes.reused_count)
    for clip, sample_id in tqdm(clips.items(), desc="audio codes", unit="clip", disable=not show_progress):
        try:
            codes.codes_for(clip, sample_id=sample_id)
        except SampleError as error:
            result.errors.append(error)
    result.encoded, result.reused = codes.encoded_count - before[0], codes.reused_count - before[1]
    return result


def main(args) -> int:
    """Exit code 0 when every sample is usable, 1 when some are bad (their codes are skipped)."""
    from stratlog.trainer.torchaudio_standin import install_if_missing

    install_if_missing()  # before transformers: the audio tokenizer needs a resampler
    from transformers import HiggsAudioV2TokenizerModel

    codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(args.audio_tokenizer_path),
                           args.audio_tokenizer_path, args.cache or default_audio_codes_dir())
    report = tokenize_data(args.data_file, codes, ClipLimits(args.max_audio_seconds, args.min_audio_seconds))
    for error in report.errors:
        print(f"  - {error}", file=sys.stderr)
    print(f"{report.summary()} (cache: {codes.folder})")
    return 1 if report.errors else 0
