"""The data side of a training run, from flags to train and eval examples read lazily from disk.

Each data file's prepared set (`prepare_shards`) is opened as it is when `stratlog tokenize` or
an earlier run made it; otherwise each node's local rank 0 prepares it while the other ranks
poll for it (no collective, so no --ddp_timeout risk). Examples are then read from memmaps when
a batch asks for them, so start-up costs the same for 10^3 and 10^6 samples. The eval set is the
eval file, or a seeded `--validation_split` of the training file (the same samples as holding
them out before preparation), or nothing (`--disable_eval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import TrainingArguments

from stratlog.trainer.arguments import DataArguments, ModelArguments
from stratlog.trainer.data.audio_codes import default_audio_codes_dir
from stratlog.trainer.data.prepare_shards import PreparationConfig, open_prepared
from stratlog.trainer.data.prepared import SOURCE, PreparedDataSet, error_from
from stratlog.trainer.data.preparation import BadSamplesError, PreparedData, held_out_indices
from stratlog.trainer.data.sequences import SequenceBuilder
from stratlog.trainer.data.validation import ClipLimits


@dataclass
class TrainingData:
    train: PreparedData
    eval: PreparedData | None


def audio_codes_dir(data_args: DataArguments) -> Path:
    return Path(data_args.audio_codes_cache) if data_args.audio_codes_cache else default_audio_codes_dir()


def checked(data_set: PreparedDataSet, rejected: list[dict], skip_bad_samples: bool) -> PreparedData:
    """Raises BadSamplesError for bad samples unless they are skipped, ValueError when none is left."""
    errors = [error_from(record) for record in rejected]
    if errors and not skip_bad_samples:
        raise BadSamplesError(errors)
    if not len(data_set):
        raise ValueError(f"no usable samples: all {len(errors)} were bad")
    return PreparedData(examples=data_set, skipped=errors, notes=data_set.notes())


def load_training_data(model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments,
                       builder: SequenceBuilder) -> TrainingData:
    """Raises BadSamplesError (without --skip_bad_samples) before any training step."""
    config = PreparationConfig(
        audio_tokenizer_dir=Path(model_args.audio_tokenizer_path), model_dir=Path(model_args.model_path),
        codes_dir=audio_codes_dir(data_args), label_all_text=builder.label_all_text,
        limits=ClipLimits(max_audio_seconds=data_args.max_audio_seconds, min_audio_seconds=data_args.min_audio_seconds),
        pair_check=data_args.pair_check,
    )

    def open_file(data_file: str) -> PreparedDataSet:
        return open_prepared(Path(data_file), config, builder, preparer=training_args.local_process_index == 0,
                             show_progress=training_args.process_index == 0 and not training_args.disable_tqdm)

    train = open_file(data_args.train_data_file)
    skip = data_args.skip_bad_samples
    if not data_args.has_eval:
        return TrainingData(train=checked(train, train.rejected, skip), eval=None)
    if data_args.eval_data_file:
        eval_set = open_file(data_args.eval_data_file)
        return TrainingData(train=checked(train, train.rejected, skip), eval=checked(eval_set, eval_set.rejected, skip))
    held = held_out_indices(train.manifest["sample_count"], data_args.validation_split, training_args.seed)
    in_eval = np.isin(train.column(SOURCE), np.fromiter(held, dtype=np.int64))
    train_rejected = [r for r in train.rejected if r["source_index"] not in held]
    eval_rejected = [r for r in train.rejected if r["source_index"] in held]
    return TrainingData(train=checked(train.subset(np.flatnonzero(~in_eval)), train_rejected, skip),
                        eval=checked(train.subset(np.flatnonzero(in_eval)), eval_rejected, skip))
