"""`stratlog tokenize`: encode every clip of a data file into the audio-code cache up front, and
with `--model_path` write the prepared data set training reads (`prepare_shards`).

Training prepares what is missing by itself; doing it first (with a progress bar, over several
processes and GPUs) keeps the work out of the GPU job and tells how much is already done. Each distinct
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
from stratlog.trainer.data.set_checks import transcript_rates
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


def prepare(args) -> int:
    """`--model_path` given: the prepared data set training reads (`prepare_shards`)."""
    from stratlog.trainer.data.prepare_shards import PreparationConfig, prepare_data_set
    from stratlog.trainer.data.prepared import PreparedDataSet, error_from

    config = PreparationConfig(audio_tokenizer_dir=args.audio_tokenizer_path, model_dir=args.model_path,
                               codes_dir=args.cache or default_audio_codes_dir(), label_all_text=args.label_all_text,
                               limits=ClipLimits(args.max_audio_seconds, args.min_audio_seconds), shard_size=args.shard_size,
                               pair_check=args.pair_check)
    report = prepare_data_set(args.data_file, config, workers=args.workers, device=args.device)
    data_set = PreparedDataSet(report.folder)
    for record in data_set.rejected:
        print(f"  - {error_from(record)}", file=sys.stderr)
    for note in data_set.notes() + list(filter(None, [transcript_rates(load_samples(args.data_file).samples)])):
        print(note, file=sys.stderr)
    print(report.summary(data_set))
    return 1 if data_set.rejected else 0


def main(args) -> int:
    """Exit code 0 when every sample is usable, 1 when some are bad (their codes are skipped), 2 for
    flags that cannot work."""
    from stratlog.trainer.arguments import check_pair_check_possible

    try:
        if args.pair_check and args.model_path is None:
            raise ValueError("--pair_check scores the prepared data set's pairs: give --model_path too")
        check_pair_check_possible(args.pair_check)
    except ValueError as error:  # the user's to fix: one line, no traceback, before any work
        print(f"error: {error}", file=sys.stderr)
        return 2
    from stratlog.trainer.torchaudio_standin import install_if_missing

    install_if_missing()  # before transformers: the audio tokenizer needs a resampler
    if args.model_path is not None:
        return prepare(args)
    from transformers import HiggsAudioV2TokenizerModel

    codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(args.audio_tokenizer_path),
                           args.audio_tokenizer_path, args.cache or default_audio_codes_dir())
    report = tokenize_data(args.data_file, codes, ClipLimits(args.max_audio_seconds, args.min_audio_seconds))
    for error in report.errors:
        print(f"  - {error}", file=sys.stderr)
    print(f"{report.summary()} (cache: {codes.folder})")
    return 1 if report.errors else 0
