"""Planted faults: known training bugs switched on one at a time, to test the diagnostics.

TESTING ONLY. The strategic logging is worth something only if its analyses catch the bugs
that really happen (tests/diagnostics/ runs the demo with each one and asserts that the right
finding turns FAIL). `--plant_fault NAME` (hidden from --help) plants one of them through
`install`, the one place a fault enters a run: it replaces one production attribute with a
wrapper, so production code carries no switch for any of them and a run without the flag
patches nothing. Each wrapper sits where the real bug would live, so the run shows
the bug's true symptoms. `FAULTS` is the one table of them; adding a fault is one row here and
one case in tests/diagnostics/test_fault_detection.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
from torch.utils.data import DataLoader, RandomSampler

from stratlog.trainer.adaptation import AdaptationArguments, adapt_model
from stratlog.trainer.data import preparation, sequences
from stratlog.trainer.data.audio_codes import AudioCodeCache
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample
from stratlog.trainer.data.sequences import IGNORE_INDEX, SequenceBuilder, TrainingExample, audio_clips_of
from stratlog.trainer.voice_cloning_trainer import VoiceCloningTrainer

TINY_LEARNING_RATE = 1e-9


# --- data: conversations, clips and labels --------------------------------------------------------

def shifted_labels(build: Callable) -> Callable:
    """label[p] := label[p - 1] for text and audio: the label shift applied twice (the model
    shifts once more inside its loss, so position p - 1 is trained to predict its own input)."""
    def planted(builder: SequenceBuilder, *args) -> TrainingExample:
        example = build(builder, *args)
        labels = np.concatenate([[IGNORE_INDEX], example.labels[:-1]])
        audio = np.concatenate([np.full_like(example.audio_labels[:1], IGNORE_INDEX), example.audio_labels[:-1]])
        return replace(example, labels=labels, audio_labels=audio)
    return planted


def masked_audio_eos(build: Callable) -> Callable:
    """The audio stream EOS masked out of the labels, as the processor's `output_labels` does:
    the model never learns to stop."""
    def planted(builder: SequenceBuilder, *args) -> TrainingExample:
        example = build(builder, *args)
        example.audio_labels[example.audio_labels == builder.ids.stream_eos] = IGNORE_INDEX
        return example
    return planted


def missing_reference_turn(conversation_for: Callable) -> Callable:
    """The assistant turn holding the reference audio left out (its transcript stays)."""
    def planted(sample: VoiceCloningSample) -> list[dict]:
        return [turn for turn in conversation_for(sample) if "reference" not in audio_clips_of([turn])]
    return planted


def silent_reference(example_for: Callable) -> Callable:
    """Each reference clip replaced by a silent recording with as many codec frames: a WAV of
    frames x hop zeros at the tokenizer's rate (which encodes to exactly that many frames), written
    beside the code cache, then encoded and cached like any clip by the real audio tokenizer (so
    rank 0 encodes it and the other ranks read its codes)."""
    def planted(sample: VoiceCloningSample, codes: AudioCodeCache, builder: SequenceBuilder, **options) -> TrainingExample:
        frames = codes.codes_for(sample.ref_audio, sample_id=sample.sample_id).shape[1]
        if frames == 0:
            return example_for(sample, codes, builder, **options)  # too short: the sample's own error
        hop = round(codes.sample_rate / codes.frame_rate)
        silence = Path(codes.folder) / "planted-silence" / f"{frames}x{hop}.wav"
        if not silence.is_file():
            silence.parent.mkdir(exist_ok=True)
            temporary = silence.with_name(f".{silence.stem}.{os.getpid()}.wav")
            soundfile.write(temporary, np.zeros(frames * hop, dtype=np.float32), codes.sample_rate)
            temporary.replace(silence)  # atomic: a rank reading it never sees half a file
        return example_for(replace(sample, ref_audio=AudioClip(silence)), codes, builder, **options)
    return planted


# --- model and training loop ----------------------------------------------------------------------

def frozen_audio_ffn(init: Callable) -> Callable:
    """The audio FFN path frozen, by adaptation.py's own --freeze_audio_ffn rule (before DDP wraps
    the model and the optimizer is built, both inside `train`)."""
    def planted(trainer: VoiceCloningTrainer, *args, **kwargs) -> None:
        init(trainer, *args, **kwargs)
        adapt_model(trainer.model, AdaptationArguments(freeze_audio_ffn=True))
    return planted


def no_backward(_training_step: Callable) -> Callable:
    """The forward and the loss as usual, then no backward: the optimizer steps on no gradient
    at all (grad is None everywhere)."""
    def planted(trainer: VoiceCloningTrainer, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        model.train()
        inputs = trainer._prepare_inputs(inputs)
        with torch.no_grad(), trainer.compute_loss_context_manager():
            loss = trainer.compute_loss(model, inputs)
        return loss.detach() / trainer.current_gradient_accumulation_steps
    return planted


def same_samples_all_ranks(_get_train_dataloader: Callable) -> Callable:
    """A plain DataLoader, seeded alike on every rank and never given to accelerate (which would
    shard it), so all ranks draw the same batches: the missing DistributedSampler."""
    def planted(trainer: VoiceCloningTrainer) -> DataLoader:
        args = trainer.args
        generator = torch.Generator().manual_seed(args.seed)
        return DataLoader(trainer.train_dataset, batch_size=args.per_device_train_batch_size, collate_fn=trainer.data_collator,
                          sampler=RandomSampler(trainer.train_dataset, generator=generator), drop_last=args.dataloader_drop_last)
    return planted


def tiny_lr_after_warmup(create_scheduler: Callable) -> Callable:
    """Linear warmup to the configured lr, then 1e-9 for the rest of the run."""
    def planted(trainer: VoiceCloningTrainer, num_training_steps: int, optimizer=None):
        if trainer.lr_scheduler is None:
            warmup = trainer.args.get_warmup_steps(num_training_steps)
            floor = TINY_LEARNING_RATE / trainer.args.learning_rate
            trainer.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer or trainer.optimizer, lambda step: step / max(1, warmup) if step < warmup else floor)
            trainer._created_lr_scheduler = True
        return create_scheduler(trainer, num_training_steps, optimizer)
    return planted


# --- the table and its one install point ----------------------------------------------------------

@dataclass(frozen=True)
class PlantedFault:
    breaks: str
    """What it breaks, in a few words (printed when it is planted)."""
    owner: Any
    """The class or module whose attribute the fault replaces: where the real bug would live."""
    attribute: str
    wrap: Callable[[Callable], Callable]
    """The original attribute -> its faulty replacement."""


FAULTS = {
    "shifted_labels": PlantedFault("text and audio labels shifted one position later", SequenceBuilder, "build", shifted_labels),
    "silent_reference": PlantedFault("reference audio replaced by silence of the same length", preparation, "example_for",
                                     silent_reference),
    "frozen_audio_ffn": PlantedFault("audio FFN path frozen", VoiceCloningTrainer, "__init__", frozen_audio_ffn),
    "missing_reference_turn": PlantedFault("reference-audio turn missing from the conversation", sequences, "conversation_for",
                                           missing_reference_turn),
    "masked_audio_eos": PlantedFault("audio stream EOS masked out of the labels", SequenceBuilder, "build", masked_audio_eos),
    "no_backward": PlantedFault("optimizer steps without backward", VoiceCloningTrainer, "training_step", no_backward),
    "same_samples_all_ranks": PlantedFault("every rank fed the same samples", VoiceCloningTrainer, "get_train_dataloader",
                                           same_samples_all_ranks),
    "tiny_lr_after_warmup": PlantedFault("learning rate 1e-9 after warmup", VoiceCloningTrainer, "create_scheduler",
                                         tiny_lr_after_warmup),
}
"""Fault name -> what it breaks and the one attribute it replaces."""


@dataclass
class FaultArguments:
    # Hidden from --help (argparse.SUPPRESS): a user never needs it; tests/diagnostics passes it.
    plant_fault: str = field(default="", metadata={"help": argparse.SUPPRESS})

    def __post_init__(self):
        if self.plant_fault and self.plant_fault not in FAULTS:
            raise ValueError(f"--plant_fault must be one of {', '.join(FAULTS)} (or empty), got {self.plant_fault!r}")


def install(name: str, patch: Callable[[Any, str, Any], None] = setattr) -> None:
    """Plants fault `name` ('' plants nothing) before anything is built. `patch` lets an
    in-process test pass pytest's `monkeypatch.setattr`, which undoes the patch afterwards."""
    if not name:
        return
    fault = FAULTS[name]
    if os.environ.get("RANK", "0") == "0":
        print(f"PLANTED FAULT (testing the diagnostics): {name}: {fault.breaks}", file=sys.stderr)
    patch(fault.owner, fault.attribute, fault.wrap(getattr(fault.owner, fault.attribute)))
