"""Command-line flags of `train_v2_ddp.py`, as dataclasses for `HfArgumentParser`.

`TrainingArguments` already holds the standard flags (--learning_rate, --num_train_epochs,
--per_device_train_batch_size, --gradient_accumulation_steps, --warmup_steps, --logging_steps,
--save_steps, --eval_steps, --eval_strategy, --seed, --bf16, --report_to,
--resume_from_checkpoint, ...); these add what is ours. LoRA and freezing live in
`trainer/adaptation.py`, the strategic-logging flags in `trainer/strategic/arguments.py`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_AUDIO_SECONDS = 30.0
DEFAULT_MIN_AUDIO_SECONDS = 0.1
PAIR_CHECK_HELP = ("Score every pair at prepare time: the speaker-embedding cosine of each sample's reference and target (needs pip install 'stratlog[voice]'; about 0.1-1 s a clip on CPU), stored with the prepared example; pairs of another speaker or of the target's own recording are named at each start and by the sink's input analysis.")


def check_pair_check_possible(pair_check: bool) -> None:
    """--pair_check without the voice extra stops before any work, not in a shard worker later."""
    from stratlog.trainer.data.speaker_embedding import VOICE_EXTRA_MISSING, voice_extra_installed

    if pair_check and not voice_extra_installed():
        raise ValueError(f"--pair_check: {VOICE_EXTRA_MISSING}")
DEFAULT_SHARD_SIZE = 1000
"""Samples per prepared shard: a few seconds of building each, so an interrupted run loses little."""


@dataclass
class ModelArguments:
    model_path: str = field(metadata={"help": "Local Higgs Audio v2 checkpoint folder (transformers format, with its text tokenizer)."})
    audio_tokenizer_path: str = field(metadata={"help": "Local HiggsAudioV2TokenizerModel folder."})
    text_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the text cross-entropy in the total loss (0 = off)."})
    audio_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the audio loss (mean over codebooks) in the total loss."})
    pure_bf16: bool = field(
        default=False,
        metadata={"help": "Keep weights and AdamW state in bf16 instead of fp32 master weights (the default, whatever dtype the "
                          "checkpoint is stored in; --bf16 then adds autocast). Saves 8 of 16 bytes per trained parameter "
                          "(5.77 B parameters: ~46 GB instead of ~92 GB) at a cost: an update below bf16's resolution is lost, "
                          "so at lr 2e-5 most N(0, 0.02) weights change in only some steps and norm weights near 1.0 never move."},
    )

    def __post_init__(self):
        for name in ("model_path", "audio_tokenizer_path"):
            if not Path(getattr(self, name)).is_dir():
                raise ValueError(f"--{name}: not a folder: {getattr(self, name)}")
        for name in ("text_loss_weight", "audio_loss_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class DataArguments:
    train_data_file: str = field(metadata={"help": "ChatML JSON array (.json) or manifest (.jsonl); audio paths relative to it."})
    eval_data_file: str = field(default="", metadata={"help": "Evaluation data in the same format ('' = hold out --validation_split)."})
    validation_split: float = field(
        default=0.0, metadata={"help": "Fraction of the training samples held out for evaluation when no --eval_data_file (0 = none)."}
    )
    disable_eval: bool = field(default=False, metadata={"help": "No evaluation at all, whatever --eval_strategy says."})
    audio_codes_cache: str = field(
        default="", metadata={"help": "Folder for cached audio codes ('' = $STRATLOG_CACHE/audio-codes, as `stratlog tokenize`)."}
    )
    skip_bad_samples: bool = field(default=False, metadata={"help": "Skip and count unusable samples instead of stopping."})
    label_all_text: bool = field(
        default=False,
        metadata={"help": "Train the text head on every text token (system prompt, headers, both transcripts), as this trainer "
                          "did before. Default: the original Higgs recipe, only trained assistant turns (from start_index on) and "
                          "their <|eot_id|>."},
    )
    max_audio_seconds: float = field(default=DEFAULT_MAX_AUDIO_SECONDS, metadata={"help": "Longest clip accepted, in seconds."})
    min_audio_seconds: float = field(default=DEFAULT_MIN_AUDIO_SECONDS, metadata={"help": "Shortest clip accepted, in seconds (0 = any with one codec frame)."})
    pair_check: bool = field(default=False, metadata={"help": PAIR_CHECK_HELP})

    @property
    def has_eval(self) -> bool:
        """Whether there is evaluation data: an eval file or a held-out split, unless --disable_eval."""
        return not self.disable_eval and bool(self.eval_data_file or self.validation_split)

    def __post_init__(self):
        for name in ("train_data_file", "eval_data_file"):
            value = getattr(self, name)
            if value and not Path(value).is_file():
                raise ValueError(f"--{name}: file not found: {value}")
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"--validation_split must be in [0, 1), got {self.validation_split}")
        if self.max_audio_seconds <= 0:
            raise ValueError(f"--max_audio_seconds must be > 0, got {self.max_audio_seconds}")
        check_pair_check_possible(self.pair_check)


@dataclass
class RunArguments:
    logging_dir: str = field(
        default="", metadata={"help": "TensorBoard folder when --report_to includes tensorboard ('' = transformers' default under output_dir)."}
    )
    record_sample_ids: bool = field(
        default=False,
        metadata={"help": "Debug: append the sample ids of every training micro-batch to <output_dir>/sample_ids/rank<R>.jsonl."},
    )


def add_tokenize_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `stratlog tokenize` (kept here, torch-free, so `stratlog sink` never loads torch)."""
    parser.add_argument("data_file", type=Path, help="ChatML JSON array (.json) or JSONL manifest.")
    parser.add_argument("--audio_tokenizer_path", type=Path, required=True, help="Local HiggsAudioV2TokenizerModel folder.")
    parser.add_argument("--cache", type=Path, default=None,
                        help="Audio-code cache folder (default: $STRATLOG_CACHE/audio-codes, the same as training's).")
    parser.add_argument("--max_audio_seconds", type=float, default=DEFAULT_MAX_AUDIO_SECONDS, help="Longest clip accepted, in seconds.")
    parser.add_argument("--min_audio_seconds", type=float, default=DEFAULT_MIN_AUDIO_SECONDS, help="Shortest clip accepted, in seconds.")
    parser.add_argument("--model_path", type=Path, default=None,
                        help="Checkpoint folder (text tokenizer and config; no weights are read). With it, the prepared data set "
                             "training reads is written too (built examples in memory-mapped shards, beside the code cache); "
                             "without it, only the audio codes are encoded.")
    parser.add_argument("--label_all_text", action="store_true", help="Prepare for a run with --label_all_text (see training's flag).")
    parser.add_argument("--workers", type=int, default=1, help="Processes preparing shards at once (with --model_path; default 1).")
    parser.add_argument("--device", default="auto",
                        help="Where the audio tokenizer runs: auto (each GPU in turn, else the CPU), cpu, cuda, cuda:N.")
    parser.add_argument("--pair_check", action="store_true", help=PAIR_CHECK_HELP + " Needs --model_path.")
    parser.add_argument("--shard_size", type=int, default=DEFAULT_SHARD_SIZE,
                        help="Samples per shard (with --model_path): the unit an interrupted run resumes from.")
