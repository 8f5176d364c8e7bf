"""Where text, reference audio and target audio sit in each sample of a Higgs batch.

Derived from the batch alone (input ids, audio labels and the audio frame mask), so every
capture — input table, attention statistics, reference swap — works for any Trainer that
feeds the model a Higgs batch. A run of audio placeholder / delay tokens is one clip; a clip
whose frames carry no audio label is conditioning, i.e. the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Clip:
    """One audio clip of a sample: token span [start, end) and its rows in the audio frames."""

    sample: int
    role: str  # "reference" | "target"
    start: int
    end: int
    first_frame_row: int
    """Index of the clip's first row in the sample's valid audio frames."""
    codec_frames: int
    """Codec frames, without stream BOS/EOS and delay padding."""


@dataclass(frozen=True)
class BatchLayout:
    input_ids: np.ndarray  # [batch, length], host copy
    valid_lengths: np.ndarray  # [batch] non-padding tokens
    is_audio: np.ndarray  # [batch, length] bool
    clips: list[Clip]

    def clips_of(self, sample: int) -> list[Clip]:
        return [clip for clip in self.clips if clip.sample == sample]

    def position_masks(self, sample: int) -> dict[str, np.ndarray]:
        """Boolean masks over one sample's positions: valid, text, audio, reference, target."""
        length = self.input_ids.shape[1]
        valid = np.arange(length) < self.valid_lengths[sample]
        reference = np.zeros(length, dtype=bool)
        target = np.zeros(length, dtype=bool)
        for clip in self.clips_of(sample):
            (target if clip.role == "target" else reference)[clip.start : clip.end] = True
        audio = self.is_audio[sample] & valid
        return {"valid": valid, "text": valid & ~audio, "audio": audio, "reference": reference, "target": target}


def batch_layout(batch: dict, audio_token_ids: tuple[int, int], num_codebooks: int) -> BatchLayout:
    """`batch` holds torch tensors (input_ids, and audio_labels + audio_input_ids_mask when
    present); `audio_token_ids` are the audio placeholder and delay token ids."""
    input_ids = batch["input_ids"].detach().cpu().numpy()  # device->host copy: capture steps only
    if "attention_mask" in batch and batch["attention_mask"] is not None:
        valid_lengths = batch["attention_mask"].detach().cpu().numpy().sum(axis=1)
    else:
        valid_lengths = np.full(len(input_ids), input_ids.shape[1])
    label_rows = _audio_label_rows(batch, len(input_ids), num_codebooks)
    is_audio = np.isin(input_ids, audio_token_ids)
    clips = []
    for sample in range(len(input_ids)):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], is_audio[sample].astype(np.int8), [0]))))
        row = 0
        for start, end in zip(edges[::2], edges[1::2]):
            length = int(end - start)
            labels = label_rows[sample][row : row + length]
            trained = bool(labels.size and (labels != IGNORE_INDEX).any())
            clips.append(Clip(sample=sample, role="target" if trained else "reference", start=int(start), end=int(end),
                              first_frame_row=row, codec_frames=max(length - 2 - (num_codebooks - 1), 0)))
            row += length
    return BatchLayout(input_ids=input_ids, valid_lengths=valid_lengths, is_audio=is_audio, clips=clips)


def _audio_label_rows(batch: dict, batch_size: int, num_codebooks: int) -> list[np.ndarray]:
    if batch.get("audio_labels") is None or batch.get("audio_input_ids_mask") is None:
        return [np.empty((0, num_codebooks), dtype=np.int64) for _ in range(batch_size)]
    labels = batch["audio_labels"].detach().cpu().numpy()
    mask = batch["audio_input_ids_mask"].detach().cpu().numpy().astype(bool)
    return [labels[i][mask[i]] for i in range(batch_size)]
