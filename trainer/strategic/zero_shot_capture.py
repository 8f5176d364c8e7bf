"""Zero-shot verification: is the target audio easier to predict with its own reference?

On a capture step, after the optimizer step, the captured batch is run twice more without
gradients in eval mode: once as it was, once with every sample's reference clip replaced by
the reference clip of another sample with a different speaker (the transcripts stay). The
per-sample target-audio losses of both runs are the raw material of the conditioning effect;
the sink aggregates them per speaker and language pair. RNG state and the train/eval mode are
saved and restored, so training continues exactly as it would have.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from stratlog.protocol import Array
from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, TrainingExample
from stratlog.trainer.strategic.batch_layout import BatchLayout


def donors(speakers: list[str]) -> list[int] | None:
    """For each sample, the next sample (cyclically) with a different speaker; None if all
    samples share one speaker."""
    chosen = []
    for i, speaker in enumerate(speakers):
        others = [(i + k) % len(speakers) for k in range(1, len(speakers))]
        different = [j for j in others if speakers[j] != speaker]
        if not different:
            return None
        chosen.append(different[0])
    return chosen


def sample_arrays(layout: BatchLayout) -> list[dict[str, np.ndarray]]:
    """Each sample's valid ids, labels, audio frames and frame labels, from the layout's host copy."""
    samples = []
    for i, n in enumerate(int(length) for length in layout.valid_lengths):
        samples.append({
            "ids": layout.input_ids[i, :n],
            "labels": layout.labels[i, :n] if layout.labels is not None else np.full(n, IGNORE_INDEX),
            "frames": layout.frames[i],
            "frame_labels": layout.frame_labels[i],
        })
    return samples


def swapped_example(samples: list[dict[str, np.ndarray]], layout: BatchLayout, i: int, donor: int) -> TrainingExample:
    """Sample i with its reference clip replaced by the donor's (donor == i: sample i as is)."""
    own, give = samples[i], samples[donor]
    ref = next(c for c in layout.clips_of(i) if c.role == "reference")
    donor_ref = next(c for c in layout.clips_of(donor) if c.role == "reference")
    own_rows = slice(ref.first_frame_row, ref.first_frame_row + (ref.end - ref.start))
    donor_rows = slice(donor_ref.first_frame_row, donor_ref.first_frame_row + (donor_ref.end - donor_ref.start))
    donor_length = donor_ref.end - donor_ref.start
    return TrainingExample(
        input_ids=np.concatenate([own["ids"][: ref.start], give["ids"][donor_ref.start : donor_ref.end], own["ids"][ref.end :]]),
        labels=np.concatenate([own["labels"][: ref.start], np.full(donor_length, IGNORE_INDEX), own["labels"][ref.end :]]),
        audio_input_ids=np.concatenate([own["frames"][: own_rows.start], give["frames"][donor_rows], own["frames"][own_rows.stop :]]),
        audio_labels=np.concatenate([own["frame_labels"][: own_rows.start], np.full_like(give["frame_labels"][donor_rows], IGNORE_INDEX),
                                     own["frame_labels"][own_rows.stop :]]),
        sample_id="", speaker="", language="",
    )


@torch.no_grad()
def target_audio_losses(model, batch: dict) -> torch.Tensor:
    """Per-sample target-audio loss: mean cross-entropy over labelled (frame, codebook) entries."""
    output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   audio_input_ids=batch["audio_input_ids"], audio_input_ids_mask=batch["audio_input_ids_mask"],
                   audio_labels=batch["audio_labels"])
    targets = output.audio_targets
    entry_loss = F.cross_entropy(output.audio_logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX,
                                 reduction="none").view_as(targets)
    valid = (targets != IGNORE_INDEX).float()
    rows = output.audio_positions[:, 0]
    size = batch["input_ids"].shape[0]
    summed = torch.zeros(size, device=targets.device).index_add_(0, rows, (entry_loss * valid).sum(1))
    counted = torch.zeros(size, device=targets.device).index_add_(0, rows, valid.sum(1))
    return summed / counted.clamp(min=1)


def zero_shot_snapshot_fields(model, batch: dict, layout: BatchLayout, ids: AudioTokenIds) -> dict:
    meta = batch.get("sample_meta") or [{} for _ in range(len(layout.input_ids))]
    speakers = [str(m.get("speaker", "")) for m in meta]
    languages = [str(m.get("language", "")) for m in meta]
    fields = {"sample_ids": [str(m.get("sample_id", "")) for m in meta], "speakers": speakers, "languages": languages}
    chosen = donors(speakers)
    has_reference = all(any(c.role == "reference" for c in layout.clips_of(i)) for i in range(len(speakers)))
    if chosen is None or not has_reference:
        reason = "every sample of the batch has the same speaker" if chosen is None else "a sample has no reference clip"
        empty = Array.from_numpy(np.zeros(0, dtype=np.float32))
        return {**fields, "sample_ids": [], "speakers": [], "languages": [], "swapped_speakers": [], "swapped_languages": [],
                "true_reference_loss": empty, "swapped_reference_loss": empty, "target_to_reference_attention": empty,
                "skipped_reason": reason}
    collate = VoiceCloningCollator(ids)
    device = batch["input_ids"].device
    samples = sample_arrays(layout)
    losses = []
    rng_state = torch.random.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    was_training = model.training
    model.eval()
    try:
        for pairing in (list(range(len(speakers))), chosen):
            rebuilt = collate([swapped_example(samples, layout, i, donor) for i, donor in enumerate(pairing)])
            rebuilt = {k: v.to(device) for k, v in rebuilt.items() if isinstance(v, torch.Tensor)}
            losses.append(target_audio_losses(model, rebuilt).cpu().numpy().astype(np.float32))  # host copy: capture only
    finally:
        model.train(was_training)
        torch.random.set_rng_state(rng_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)
    return {
        **fields,
        "swapped_speakers": [speakers[j] for j in chosen],
        "swapped_languages": [languages[j] for j in chosen],
        "true_reference_loss": Array.from_numpy(losses[0]),
        "swapped_reference_loss": Array.from_numpy(losses[1]),
        "target_to_reference_attention": Array.from_numpy(np.zeros(0, dtype=np.float32)),
    }
