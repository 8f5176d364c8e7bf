"""Command-line flags of `train_v2_ddp.py`, as dataclasses for `HfArgumentParser`.

`TrainingArguments` already holds the standard flags (--learning_rate, --num_train_epochs,
--per_device_train_batch_size, --gradient_accumulation_steps, --logging_steps, --save_steps,
--seed, --bf16, --report_to, --resume_from_checkpoint, ...); these add what is ours. The strategic-logging flags live in
`trainer/strategic/arguments.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ModelArguments:
    model_path: str = field(metadata={"help": "Local Higgs Audio v2 checkpoint folder (transformers format, with its text tokenizer)."})
    audio_tokenizer_path: str = field(metadata={"help": "Local HiggsAudioV2TokenizerModel folder."})
    text_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the text cross-entropy in the total loss (0 = off)."})
    audio_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the audio loss (mean over codebooks) in the total loss."})

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
    audio_codes_cache: str = field(
        default="", metadata={"help": "Folder for cached audio codes (default: <output_dir>/../audio-codes-cache)."}
    )
    skip_bad_samples: bool = field(default=False, metadata={"help": "Skip and count unusable samples instead of stopping."})
    max_audio_seconds: float = field(default=30.0, metadata={"help": "Longest clip accepted, in seconds."})

    def __post_init__(self):
        if not Path(self.train_data_file).is_file():
            raise ValueError(f"--train_data_file: file not found: {self.train_data_file}")
        if self.max_audio_seconds <= 0:
            raise ValueError(f"--max_audio_seconds must be > 0, got {self.max_audio_seconds}")
