"""Zero-shot verification: is the target audio easier to predict with its own reference?

Two per-sample target-audio losses of the captured micro-batch, at the same weights:
- with the true reference: from the training forward's own logits (`CaptureScheduler` computes
  them in its forward hook, on the device; no extra forward);
- with a swapped reference: one no-grad forward of the batch in which each sample's reference
  clip is replaced by a recent reference of another speaker (the transcripts stay). Donors come
  from `ReferencePool`, a small host-side pool filled from captured batches, the current batch's
  own other speakers first: so it measures at batch size 1 and in a batch of one speaker, as
  soon as the pool holds another speaker.
The swapped forward runs at `on_pre_optimizer_step`, before the weights change, in the model's
training mode like the forward the true loss comes from, with the RNG forked so training's random
stream is untouched. If the model has dropout (attention_dropout, lora_dropout), both losses are
thus taken under dropout of the same rate: independent masks, noise but no bias between them.
Higgs's default config has no dropout; then the two are exactly comparable. The sink aggregates
the pairs per speaker and language pair.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stratlog.protocol import Array
from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, TrainingExample
from stratlog.trainer.model import VoiceCloningOutput
from stratlog.trainer.strategic.batch_layout import BatchLayout
from stratlog.trainer.strategic.shards import reshard

POOL_SPEAKERS = 16
"""Speakers whose latest reference the pool keeps (one clip each: a few hundred KiB at most)."""


@dataclass(frozen=True)
class Reference:
    """One sample's reference clip as it sits in a sequence: its token span and its audio frames."""

    speaker: str
    language: str
    ids: np.ndarray  # the clip's placeholder + delay token ids
    frames: np.ndarray  # [rows, codebooks] delayed codes


class ReferencePool:
    """The latest reference of each of the most recently seen speakers, on the host."""

    def __init__(self, capacity: int = POOL_SPEAKERS):
        self.capacity = capacity
        self._by_speaker: OrderedDict[str, Reference] = OrderedDict()

    def add(self, reference: Reference) -> None:
        self._by_speaker.pop(reference.speaker, None)
        self._by_speaker[reference.speaker] = reference
        while len(self._by_speaker) > self.capacity:
            self._by_speaker.popitem(last=False)

    def donor_for(self, speaker: str) -> Reference | None:
        """The most recently added reference of another speaker."""
        return next((ref for name, ref in reversed(self._by_speaker.items()) if name != speaker), None)


def references_of(layout: BatchLayout, speakers: list[str], languages: list[str]) -> list[Reference | None]:
    """Each sample's reference (None for a sample without one), from the layout's host copy."""
    found = []
    for i in range(len(speakers)):
        clip = next((c for c in layout.clips_of(i) if c.role == "reference"), None)
        rows = None if clip is None else slice(clip.first_frame_row, clip.first_frame_row + (clip.end - clip.start))
        found.append(None if clip is None else Reference(speakers[i], languages[i], layout.input_ids[i, clip.start:clip.end].copy(),
                                                         layout.frames[i][rows].copy()))
    return found


def swapped_example(layout: BatchLayout, i: int, donor: Reference) -> TrainingExample:
    """Sample i of the batch with its reference clip replaced by the donor's."""
    n = int(layout.valid_lengths[i])
    ids = layout.input_ids[i, :n]
    labels = layout.labels[i, :n] if layout.labels is not None else np.full(n, IGNORE_INDEX)
    frames, frame_labels = layout.frames[i], layout.frame_labels[i]
    ref = next(c for c in layout.clips_of(i) if c.role == "reference")
    first, stop = ref.first_frame_row, ref.first_frame_row + (ref.end - ref.start)
    return TrainingExample(
        input_ids=np.concatenate([ids[: ref.start], donor.ids, ids[ref.end :]]),
        labels=np.concatenate([labels[: ref.start], np.full(len(donor.ids), IGNORE_INDEX), labels[ref.end :]]),
        audio_input_ids=np.concatenate([frames[:first], donor.frames, frames[stop:]]),
        audio_labels=np.concatenate([frame_labels[:first], np.full_like(donor.frames, IGNORE_INDEX), frame_labels[stop:]]),
        sample_id="", speaker="", language="",
    )


@torch.no_grad()
def target_audio_losses(output: VoiceCloningOutput, batch_size: int) -> torch.Tensor:
    """Per-sample target-audio loss: mean cross-entropy over labelled (frame, codebook) entries
    (0 for a sample without any), on the logits' device."""
    targets = output.audio_targets
    entry_loss = F.cross_entropy(output.audio_logits.detach().float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX,
                                 reduction="none").view_as(targets)
    valid = (targets != IGNORE_INDEX).float()
    rows = output.audio_positions[:, 0]
    summed = torch.zeros(batch_size, device=targets.device).index_add_(0, rows, (entry_loss * valid).sum(1))
    counted = torch.zeros(batch_size, device=targets.device).index_add_(0, rows, valid.sum(1))
    return summed / counted.clamp(min=1)


@dataclass
class SwapMeasurement:
    """What the zero-shot snapshot needs besides the true losses; `losses` stays on the device
    until the snapshot is packed."""

    donors: list[Reference] | None = None
    losses: torch.Tensor | None = None
    skipped_reason: str = ""


class ReferenceSwap:
    """Chooses donors from the pool and runs the one swapped forward of a capture step."""

    def __init__(self, ids: AudioTokenIds):
        self.collate = VoiceCloningCollator(ids)
        self.pool = ReferencePool()

    def measure(self, model, batch: dict, layout: BatchLayout, *, collective: bool = False) -> SwapMeasurement:
        """`collective`: the model's forward is a collective (FSDP, ZeRO-3: every rank gathers each
        layer's weights in turn), so every rank must run exactly one forward here, whether or not its
        own batch can be measured: a rank that cannot (or fails preparing) runs its batch unchanged
        and drops the result, else the other ranks would wait for it forever."""
        device = batch["input_ids"].device
        try:
            measurement, inputs = self._swapped_inputs(batch, layout)
        except Exception:
            if collective:
                self._forward(model, batch, device)
            raise
        if inputs is None:
            if collective:
                self._forward(model, batch, device)
            return measurement
        output = self._forward(model, inputs, device)
        return SwapMeasurement(donors=measurement.donors, losses=target_audio_losses(output, len(measurement.donors)))

    def _swapped_inputs(self, batch: dict, layout: BatchLayout) -> tuple[SwapMeasurement, dict | None]:
        """The donors and the swapped batch, or a skipped measurement and None."""
        meta = batch.get("sample_meta") or [{} for _ in range(len(layout.input_ids))]
        speakers = [str(m.get("speaker", "")) for m in meta]
        own = references_of(layout, speakers, [str(m.get("language", "")) for m in meta])
        if any(reference is None for reference in own):
            return SwapMeasurement(skipped_reason="a sample has no reference clip"), None
        for reference in own:  # the batch's own other speakers are the freshest donors
            self.pool.add(reference)
        donors = [self.pool.donor_for(speaker) for speaker in speakers]
        if any(donor is None for donor in donors):
            return SwapMeasurement(skipped_reason="no reference of another speaker seen yet (the pool fills from captured batches)"), None
        rebuilt = self.collate([swapped_example(layout, i, donor) for i, donor in enumerate(donors)])
        return SwapMeasurement(donors=donors), rebuilt

    @staticmethod
    def _forward(model, batch: dict, device: torch.device) -> VoiceCloningOutput:
        """One no-grad forward of `batch`'s tensors (text labels left out) on `device`, with the RNG
        forked; under FSDP2 the weights it gathered are freed again right after."""
        inputs = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor) and k != "labels"}
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            try:
                return model(**inputs)
            finally:
                reshard(model)


def zero_shot_snapshot_fields(batch: dict, true_losses: torch.Tensor | None, swap: SwapMeasurement) -> dict:
    meta = batch.get("sample_meta") or []
    if swap.donors is None or true_losses is None:
        empty = Array.from_numpy(np.zeros(0, dtype=np.float32))
        return {"sample_ids": [], "speakers": [], "languages": [], "swapped_speakers": [], "swapped_languages": [],
                "true_reference_loss": empty, "swapped_reference_loss": empty, "target_to_reference_attention": empty,
                "skipped_reason": swap.skipped_reason or "the training forward's output was not captured"}
    host = torch.stack([true_losses, swap.losses]).cpu().numpy().astype(np.float32)  # one device->host copy: capture only
    return {
        "sample_ids": [str(m.get("sample_id", "")) for m in meta],
        "speakers": [str(m.get("speaker", "")) for m in meta],
        "languages": [str(m.get("language", "")) for m in meta],
        "swapped_speakers": [donor.speaker for donor in swap.donors],
        "swapped_languages": [donor.language for donor in swap.donors],
        "true_reference_loss": Array.from_numpy(host[0]),
        "swapped_reference_loss": Array.from_numpy(host[1]),
        "target_to_reference_attention": Array.from_numpy(np.zeros(0, dtype=np.float32)),
    }
