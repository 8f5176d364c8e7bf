"""Zero-shot voice-cloning fine-tuning of Higgs Audio v2 under torchrun, with strategic logging.

    torchrun --nproc_per_node=N trainer/train_v2_ddp.py --model_path M --audio_tokenizer_path A \
        --train_data_file D.json --output_dir O --enable_strategic_logging --strategic_logging_steps 100

Parse, build, run, close: the parts live in the `trainer` package.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from trainer.torchaudio_standin import install_if_missing

install_if_missing()  # before transformers is imported: it caches whether torchaudio exists
from transformers import AutoTokenizer, HfArgumentParser, HiggsAudioV2TokenizerModel, TrainingArguments  # noqa: E402

from trainer.arguments import DataArguments, ModelArguments  # noqa: E402
from trainer.audio_codes import AudioCodeCache  # noqa: E402
from trainer.batching import VoiceCloningCollator, VoiceCloningDataset  # noqa: E402
from trainer.model import HiggsVoiceCloningModel  # noqa: E402
from trainer.preparation import prepare_examples  # noqa: E402
from trainer.samples import SampleError, load_samples  # noqa: E402
from trainer.sequences import AudioTokenIds, SequenceBuilder  # noqa: E402
from trainer.strategic.arguments import StrategicLoggingArguments  # noqa: E402
from trainer.strategic.setup import build_strategic_logging  # noqa: E402
from trainer.voice_cloning_trainer import VoiceCloningTrainer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    if not torch.cuda.is_available():
        # Accelerate treats torchrun ranks as DDP processes only when told they are CPU ranks;
        # otherwise each rank would train alone. CPU DDP then uses gloo.
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    parser = HfArgumentParser((ModelArguments, DataArguments, StrategicLoggingArguments, TrainingArguments))
    model_args, data_args, logging_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    training_args.remove_unused_columns = False  # the collator's sample_meta must reach the model call

    tokenizer = AutoTokenizer.from_pretrained(model_args.model_path)
    model = HiggsVoiceCloningModel.from_pretrained(model_args.model_path, use_text_head=True)
    ids = AudioTokenIds.from_config(model.config)
    cache_dir = Path(data_args.audio_codes_cache or Path(training_args.output_dir).parent / "audio-codes-cache")
    try:
        with training_args.main_process_first(desc="audio codes"):  # rank 0 encodes, the others read the cache
            codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(model_args.audio_tokenizer_path),
                                   Path(model_args.audio_tokenizer_path), cache_dir)
            prepared = prepare_examples(
                load_samples(data_args.train_data_file), codes, SequenceBuilder(tokenizer, ids),
                max_audio_seconds=data_args.max_audio_seconds, skip_bad_samples=data_args.skip_bad_samples,
                show_progress=training_args.process_index == 0,
            )
    except SampleError as error:
        print(f"error: bad training sample: {error}\n(use --skip_bad_samples to skip and count such samples)", file=sys.stderr)
        return 2
    if prepared.skipped and training_args.process_index == 0:
        print(f"skipped {len(prepared.skipped)} bad samples:", file=sys.stderr)
        for error in prepared.skipped:
            print(f"  - {error}", file=sys.stderr)

    publisher, callbacks = None, []
    if logging_args.enable_strategic_logging:
        publisher, callbacks = build_strategic_logging(
            logging_args, model_path=model_args.model_path, audio_tokenizer_path=model_args.audio_tokenizer_path
        )
    trainer = VoiceCloningTrainer(
        model=model, args=training_args, train_dataset=VoiceCloningDataset(prepared.examples),
        data_collator=VoiceCloningCollator(ids), callbacks=callbacks,
        text_loss_weight=model_args.text_loss_weight, audio_loss_weight=model_args.audio_loss_weight,
    )
    status = "failed"
    try:
        trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if publisher is not None:
            publisher.close(status=status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
