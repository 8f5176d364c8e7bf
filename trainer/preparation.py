"""From the data file to training examples, with every sample checked before training starts.

A bad sample (missing or corrupt audio, empty text, over-long clip) is found here, up front,
with a message naming the sample and the file, instead of as a crash hours into a run. With
`skip_bad_samples` the bad ones are left out and counted; otherwise the first one stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tqdm import tqdm

from trainer.audio_codes import AudioCodeCache
from trainer.samples import SampleError, VoiceCloningSample
from trainer.sequences import SequenceBuilder, TrainingExample


@dataclass
class PreparedData:
    examples: list[TrainingExample]
    skipped: list[SampleError] = field(default_factory=list)


def prepare_examples(
    samples: list[VoiceCloningSample],
    codes: AudioCodeCache,
    builder: SequenceBuilder,
    *,
    max_audio_seconds: float,
    skip_bad_samples: bool,
    show_progress: bool = True,
) -> PreparedData:
    prepared = PreparedData(examples=[])
    frame_rate = codes.audio_tokenizer.config.frame_rate
    for sample in tqdm(samples, desc="audio codes", unit="sample", disable=not show_progress):
        try:
            prepared.examples.append(_prepare_one(sample, codes, builder, max_audio_seconds * frame_rate))
        except SampleError as error:
            if not skip_bad_samples:
                raise
            prepared.skipped.append(error)
    if not prepared.examples:
        raise ValueError(f"no usable samples: all {len(samples)} were skipped")
    return prepared


def _prepare_one(sample: VoiceCloningSample, codes: AudioCodeCache, builder: SequenceBuilder, max_frames: float) -> TrainingExample:
    for name, text in (("reference transcript", sample.ref_text), ("target transcript", sample.target_text)):
        if not text:
            raise SampleError(sample.sample_id, sample.target_audio if "target" in name else sample.ref_audio, f"empty {name}")
    clip_codes = []
    for path in (sample.ref_audio, sample.target_audio):
        clip = codes.codes_for(path, sample_id=sample.sample_id)
        if clip.shape[1] > max_frames:
            seconds = clip.shape[1] / codes.audio_tokenizer.config.frame_rate
            raise SampleError(sample.sample_id, path, f"audio too long: {seconds:.1f} s > {max_frames / codes.audio_tokenizer.config.frame_rate:.1f} s")
        if clip.shape[1] == 0:
            raise SampleError(sample.sample_id, path, "audio too short to yield one codec frame")
        clip_codes.append(clip)
    return builder.build(sample, *clip_codes)
