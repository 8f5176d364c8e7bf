"""The data side of a training run, from flags to prepared train and eval examples.

Rank 0 validates and encodes first (`main_process_first`), the other ranks then find every code
in the cache; so a multi-GPU run encodes each clip once. The eval set is the eval file, or a
seeded `--validation_split` of the training file, or nothing (`--disable_eval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import HiggsAudioV2TokenizerModel, TrainingArguments

from stratlog.trainer.arguments import DataArguments, ModelArguments
from stratlog.trainer.data.audio_codes import AudioCodeCache, default_audio_codes_dir
from stratlog.trainer.data.preparation import PreparedData, hold_out, prepare_examples
from stratlog.trainer.data.samples import load_samples
from stratlog.trainer.data.sequences import SequenceBuilder
from stratlog.trainer.data.validation import ClipLimits


@dataclass
class TrainingData:
    train: PreparedData
    eval: PreparedData | None


def audio_codes_dir(data_args: DataArguments) -> Path:
    return Path(data_args.audio_codes_cache) if data_args.audio_codes_cache else default_audio_codes_dir()


def load_training_data(model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments,
                       builder: SequenceBuilder) -> TrainingData:
    """Raises BadSamplesError (without --skip_bad_samples) before any training step."""
    limits = ClipLimits(max_audio_seconds=data_args.max_audio_seconds, min_audio_seconds=data_args.min_audio_seconds)
    train_set, eval_set = load_samples(data_args.train_data_file), None
    if data_args.has_eval:
        if data_args.eval_data_file:
            eval_set = load_samples(data_args.eval_data_file)
        else:
            train_set, eval_set = hold_out(train_set, data_args.validation_split, training_args.seed)
    with training_args.main_process_first(desc="audio codes"):  # rank 0 encodes, the others read the cache
        codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(model_args.audio_tokenizer_path),
                               Path(model_args.audio_tokenizer_path), audio_codes_dir(data_args))

        def prepare(sample_set) -> PreparedData:
            return prepare_examples(sample_set, codes, builder, limits=limits, skip_bad_samples=data_args.skip_bad_samples,
                                    show_progress=training_args.process_index == 0 and not training_args.disable_tqdm)

        return TrainingData(train=prepare(train_set), eval=prepare(eval_set) if eval_set is not None else None)
