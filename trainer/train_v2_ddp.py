"""Zero-shot voice-cloning fine-tuning of Higgs Audio v2 under torchrun, with strategic logging.

    torchrun --nproc_per_node=N trainer/train_v2_ddp.py --model_path M --audio_tokenizer_path A \
        --train_data_file D.json --output_dir O --enable_strategic_logging --strategic_logging_steps 100

Parse, build, run, close: the parts live in the `trainer` package.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path

import torch

from stratlog.trainer.torchaudio_standin import install_if_missing

install_if_missing()  # before transformers is imported: it caches whether torchaudio exists
from transformers import AutoTokenizer, HfArgumentParser, TrainingArguments, set_seed  # noqa: E402
from transformers.trainer_utils import IntervalStrategy  # noqa: E402

from stratlog.trainer import faults  # noqa: E402
from stratlog.trainer.adaptation import AdaptationArguments, adapt_model, trainable_summary  # noqa: E402
from stratlog.trainer.arguments import DataArguments, ModelArguments, RunArguments  # noqa: E402
from stratlog.trainer.data.batching import VoiceCloningCollator  # noqa: E402
from stratlog.trainer.data.preparation import BadSamplesError  # noqa: E402
from stratlog.trainer.data.sequences import AudioTokenIds, SequenceBuilder  # noqa: E402
from stratlog.trainer.data.setup import TrainingData, load_training_data  # noqa: E402
from stratlog.trainer.model import HiggsVoiceCloningModel  # noqa: E402
from stratlog.trainer.sample_ids import SampleIdRecorder  # noqa: E402
from stratlog.trainer.sharding import ShardingReport, sharding_engine, sharding_refusal  # noqa: E402
from stratlog.trainer.strategic.arguments import StrategicLoggingArguments  # noqa: E402
from stratlog.trainer.strategic.callbacks import RunLifecycleCallback  # noqa: E402
from stratlog.trainer.strategic.setup import build_strategic_logging, starting_step  # noqa: E402
from stratlog.trainer.strategic.termination import close_on_sigterm  # noqa: E402
from stratlog.trainer.voice_cloning_trainer import VoiceCloningTrainer  # noqa: E402

ARGUMENT_CLASSES = (ModelArguments, DataArguments, AdaptationArguments, RunArguments, StrategicLoggingArguments,
                    faults.FaultArguments, TrainingArguments)


def configure_run(training_args: TrainingArguments, run_args: RunArguments, has_eval: bool) -> None:
    """Settings Trainer's defaults get wrong for this model, each set deliberately."""
    training_args.remove_unused_columns = False  # the collator's sample_meta must reach the model call
    training_args.prediction_loss_only = True  # eval reports losses; our outputs are not logits to gather
    if training_args.ddp_find_unused_parameters is None:
        # Every batch uses every trainable parameter: each sequence has text and audio positions
        # (both DualFFN paths run) and both heads are applied even to zero labelled positions
        # (tests/trainer/test_loss.py). So skip DDP's extra graph traversal.
        training_args.ddp_find_unused_parameters = False
    if not has_eval:
        training_args.eval_strategy = IntervalStrategy.NO
    if run_args.logging_dir:
        Path(run_args.logging_dir).mkdir(parents=True, exist_ok=True)
        os.environ["TENSORBOARD_LOGGING_DIR"] = run_args.logging_dir  # transformers 5's TensorBoardCallback reads this


def print_data_report(data: TrainingData) -> None:
    """What happened to the user's data: resampling notes and skipped samples (rank 0 prints it)."""
    for prepared, name in ((data.train, "training"), (data.eval, "evaluation")):
        for line in (prepared.notes if prepared else []):
            print(line, file=sys.stderr)
        if prepared and prepared.skipped:
            print(f"{name} data: {prepared.skip_summary()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    if not torch.cuda.is_available():
        # Accelerate treats torchrun ranks as DDP processes only when told they are CPU ranks;
        # otherwise each rank would train alone. CPU DDP then uses gloo.
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    model_args, data_args, adaptation_args, run_args, logging_args, fault_args, training_args = \
        parser.parse_args_into_dataclasses(args=argv)
    faults.install(fault_args.plant_fault)  # tests only (--plant_fault is hidden); '' in every real run: nothing
    is_main = training_args.process_index == 0
    refusal = sharding_refusal(training_args, logging_args)
    if refusal:
        if is_main:
            print(f"error: {refusal}", file=sys.stderr)
        return 2

    tokenizer = AutoTokenizer.from_pretrained(model_args.model_path)
    model = HiggsVoiceCloningModel.for_training(model_args.model_path, pure_bf16=model_args.pure_bf16)
    ids = AudioTokenIds.from_config(model.config)
    builder = SequenceBuilder(tokenizer, ids, label_all_text=data_args.label_all_text, max_length=model.config.max_position_embeddings)
    configure_run(training_args, run_args, has_eval=data_args.has_eval)

    publisher, callbacks = None, []
    if logging_args.enable_strategic_logging:
        publisher, callbacks = build_strategic_logging(
            logging_args, model_path=model_args.model_path, audio_tokenizer_path=model_args.audio_tokenizer_path
        )
        close_on_sigterm(publisher)  # SIGTERM: the run end "terminated" goes out, then the rank ends as before
    lifecycle = next((callback for callback in callbacks if isinstance(callback, RunLifecycleCallback)), None)
    status = "failed"
    try:
        step = starting_step(training_args)
        if lifecycle is not None:
            lifecycle.announce(model, training_args, step)  # before the data can fail: the sink hears why a run stopped
        try:
            data = load_training_data(model_args, data_args, training_args, builder)
        except Exception as error:
            if lifecycle is not None:
                lifecycle.guard.report("data_loading", step, error)
            if not isinstance(error, BadSamplesError):
                raise
            if is_main:  # every rank finds the same bad samples; one report is enough
                print(f"error: {error}\n(use --skip_bad_samples to skip and count such samples)", file=sys.stderr)
            return 2
        if is_main:
            print_data_report(data)
        set_seed(training_args.seed)  # LoRA adapters are initialised at random here, before Trainer seeds anything
        model = adapt_model(model, adaptation_args)
        if is_main:
            print(trainable_summary(model), file=sys.stderr)
        if sharding_engine(training_args):
            callbacks = [ShardingReport(sharding_engine(training_args)), *callbacks]
        recorder = SampleIdRecorder(training_args.output_dir, training_args.process_index) if run_args.record_sample_ids else None
        trainer = VoiceCloningTrainer(
            model=model, args=training_args, train_dataset=data.train.examples,
            eval_dataset=data.eval.examples if data.eval else None,
            data_collator=VoiceCloningCollator(ids), callbacks=callbacks, sample_id_recorder=recorder,
            text_loss_weight=model_args.text_loss_weight, audio_loss_weight=model_args.audio_loss_weight,
        )
        trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if publisher is not None:
            publisher.close(status=status)
    return 0


def exit_without_finalizing(code: int) -> None:
    """Ends a torchrun rank as a normal exit would (non-daemon threads joined, atexit handlers
    run, streams flushed), minus interpreter finalization. gloo's worker threads free each
    collective's tensors a moment after it returns, which takes the GIL; a worker that gets there
    during finalization is ended by Python 3.11 with pthread_exit, whose unwinding through C++
    noexcept frames aborts the process ("terminate called without an active exception", SIGABRT
    after a finished run). destroy_process_group is no cure: ProcessGroupGloo's destructor joins
    those workers with the GIL held and deadlocks with the same one. multiprocessing's children
    end the same way, for the same kind of reason."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_code = main()
    if torch.distributed.is_initialized():
        exit_without_finalizing(exit_code)
    sys.exit(exit_code)
