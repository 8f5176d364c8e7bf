"""Planted faults: known training bugs switched on one at a time, to test the diagnostics.

TESTING ONLY. The strategic logging is worth something only if its analyses catch the bugs
that really happen (tests/diagnostics/ runs the demo with each one and asserts that the right
finding turns FAIL). `--plant_fault NAME` plants one of them; the default ('') plants nothing
and none of the hooks below changes anything then. Each hook sits where the real bug would
live, so the run shows the bug's true symptoms:

- shifted_labels: every text and audio label moved one position later (the label shift
  applied twice), so the model is trained to reproduce its current input;
- silent_reference: each reference clip replaced by silence of the same length, encoded by the
  real audio tokenizer (a reference that carries no voice);
- frozen_audio_ffn: the audio FFN path frozen (adaptation.py's --freeze_audio_ffn);
- missing_reference_turn: the reference-audio turn left out of the conversation;
- masked_audio_eos: the audio stream EOS masked out of the labels (the processor's trap);
- no_backward: optimizer steps without a backward pass (no gradients at all);
- same_samples_all_ranks: every rank fed the same samples (an unsharded, identically seeded
  DataLoader on every rank: the missing DistributedSampler);
- tiny_lr_after_warmup: learning rate 1e-9 once the warmup to the normal peak is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from stratlog.trainer.data.sequences import IGNORE_INDEX, TrainingExample

FAULTS = {
    "shifted_labels": "text and audio labels shifted one position later",
    "silent_reference": "reference audio replaced by encoded silence of the same length",
    "frozen_audio_ffn": "audio FFN path frozen",
    "missing_reference_turn": "reference-audio turn missing from the conversation",
    "masked_audio_eos": "audio stream EOS masked out of the labels",
    "no_backward": "optimizer steps without backward",
    "same_samples_all_ranks": "every rank fed the same samples",
    "tiny_lr_after_warmup": "learning rate 1e-9 after warmup",
}
"""Fault name -> what it breaks."""

TINY_LEARNING_RATE = 1e-9


@dataclass
class FaultArguments:
    plant_fault: str = field(default="", metadata={
        "help": "TESTING ONLY, for testing the strategic-logging diagnostics: plant a known training bug "
                "('' = none, the default). One of: " + ", ".join(FAULTS) + " (see trainer/faults.py)."})

    def __post_init__(self):
        if self.plant_fault and self.plant_fault not in FAULTS:
            raise ValueError(f"--plant_fault must be one of {', '.join(FAULTS)} (or empty), got {self.plant_fault!r}")


# --- data: sequences and labels ---------------------------------------------------------------

def shift_labels_one_later(example: TrainingExample) -> TrainingExample:
    """shifted_labels: label[p] := label[p - 1] for text and audio (the model shifts once more
    inside its loss, so position p - 1 is trained to predict its own input token)."""
    labels = np.concatenate([[IGNORE_INDEX], example.labels[:-1]])
    audio = np.concatenate([np.full_like(example.audio_labels[:1], IGNORE_INDEX), example.audio_labels[:-1]])
    return replace(example, labels=labels, audio_labels=audio)


class SilentReferenceCodes:
    """silent_reference: codes of a silent clip with as many codec frames as the real reference,
    encoded by the real tokenizer once per frame count and kept beside the code cache (so the
    other ranks read them instead of encoding again)."""

    def __init__(self, codes_cache):
        self.codes_cache = codes_cache
        self.hop = round(codes_cache.sample_rate / codes_cache.frame_rate)

    def codes_for(self, frames: int) -> np.ndarray:
        path: Path = self.codes_cache.folder / f"silence-{frames}x{self.hop}.npy"
        if path.is_file():
            return np.load(path)
        codes = self.codes_cache._encode(np.zeros(frames * self.hop, dtype=np.float32))[:, :frames]
        temporary = path.with_name(f".{path.name}.tmp.npy")
        np.save(temporary, codes)
        temporary.replace(path)
        return codes


def build_example(fault: str, sample, ref_codes: np.ndarray, target_codes: np.ndarray, codes_cache, builder) -> TrainingExample:
    """The data-side faults around `SequenceBuilder.build` (the builder itself handles
    missing_reference_turn and masked_audio_eos, configured by `configure_builder`)."""
    if fault == "silent_reference":
        ref_codes = SilentReferenceCodes(codes_cache).codes_for(ref_codes.shape[1])
    example = builder.build(sample, ref_codes, target_codes)
    return shift_labels_one_later(example) if fault == "shifted_labels" else example


def configure_builder(builder, fault: str):
    builder.include_reference_turn = fault != "missing_reference_turn"
    builder.train_audio_eos = fault != "masked_audio_eos"
    return builder


def adjust_adaptation(adaptation_args, fault: str) -> None:
    if fault == "frozen_audio_ffn":
        adaptation_args.freeze_audio_ffn = True


# --- training loop -------------------------------------------------------------------------------

def step_without_backward(trainer, model, inputs) -> torch.Tensor:
    """no_backward: the forward and the loss as usual, then no backward: the optimizer steps on
    no gradient at all (grad is None everywhere)."""
    model.train()
    inputs = trainer._prepare_inputs(inputs)
    with torch.no_grad(), trainer.compute_loss_context_manager():
        loss = trainer.compute_loss(model, inputs)
    return loss.detach() / trainer.current_gradient_accumulation_steps


def unsharded_dataloader(trainer) -> DataLoader:
    """same_samples_all_ranks: a plain DataLoader, seeded alike on every rank and never given to
    accelerate (which would shard it), so all ranks draw the same batches."""
    args = trainer.args
    generator = torch.Generator().manual_seed(args.seed)
    return DataLoader(trainer.train_dataset, batch_size=args.per_device_train_batch_size, collate_fn=trainer.data_collator,
                      sampler=RandomSampler(trainer.train_dataset, generator=generator), drop_last=args.dataloader_drop_last)


def tiny_lr_after_warmup_scheduler(trainer, optimizer, num_training_steps: int):
    """tiny_lr_after_warmup: linear warmup to the configured lr, then 1e-9 for the rest."""
    warmup = trainer.args.get_warmup_steps(num_training_steps)
    floor = TINY_LEARNING_RATE / trainer.args.learning_rate

    def factor(step: int) -> float:
        return step / max(1, warmup) if step < warmup else floor

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
