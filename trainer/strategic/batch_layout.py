"""Where text, reference audio and target audio sit in each sample of a Higgs batch.

Derived from the batch alone (input ids, audio labels and the audio frame mask), so every
capture — input table, attention statistics, reference swap — works for any Trainer that
feeds the model a Higgs batch. It also holds the one host copy of the batch tensors the
captures read, so a capture step copies each of them from the device once. A run of audio placeholder / delay tokens is one clip; a clip
whose frames carry no audio label is conditioning, i.e. the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stratlog.trainer.data.sequences import IGNORE_INDEX


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
    labels: np.ndarray | None
    """[batch, length] text labels, host copy; None when the batch has none."""
    frames: list[np.ndarray]
    """Per sample, its valid audio frames [rows, codebooks] (host copy; empty without audio)."""
    frame_labels: list[np.ndarray]
    """Per sample, the audio labels of those rows."""

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
    """`batch` holds torch tensors (input_ids, and audio_input_ids + audio_labels +
    audio_input_ids_mask when present); `audio_token_ids` are the audio placeholder and delay
    token ids."""
    host = {name: value.detach().cpu().numpy() for name, value in batch.items()  # device->host: capture steps only
            if isinstance(value, torch.Tensor)}
    input_ids = host["input_ids"]
    if "attention_mask" in host:
        valid_lengths = host["attention_mask"].sum(axis=1)
    else:
        valid_lengths = np.full(len(input_ids), input_ids.shape[1])
    frames, label_rows = _audio_rows(host, len(input_ids), num_codebooks)
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
    return BatchLayout(input_ids=input_ids, valid_lengths=valid_lengths, is_audio=is_audio, clips=clips,
                       labels=host.get("labels"), frames=frames, frame_labels=label_rows)


def _audio_rows(host: dict[str, np.ndarray], batch_size: int, num_codebooks: int) -> tuple[list, list]:
    """Per sample, its valid audio frame rows and their labels (empty where the batch has none)."""
    empty = [np.empty((0, num_codebooks), dtype=np.int64) for _ in range(batch_size)]
    if "audio_input_ids_mask" not in host:
        return empty, empty
    mask = host["audio_input_ids_mask"].astype(bool)
    def rows(name: str) -> list[np.ndarray]:
        return [host[name][i][mask[i]] for i in range(batch_size)] if name in host else empty
    return rows("audio_input_ids"), rows("audio_labels")
