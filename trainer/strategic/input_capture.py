"""The input snapshot: what went into the model on a capture step.

Built from the keyword arguments of the model's forward call, so it works for any Trainer
that calls the model with a Higgs batch. Only small things leave the device: the shapes of
every tensor, the first sample's input ids, and the audio segment table, which is derived
from the ids (runs of audio placeholder / delay tokens) and the audio labels (a run without
any audio label is conditioning, i.e. the reference).
"""

from __future__ import annotations

import numpy as np
import torch

from protocol import Array, AudioSegment, TensorInfo


def tensor_table(batch: dict) -> list[TensorInfo]:
    return [
        TensorInfo(name=name, shape=list(value.shape), dtype=str(value.dtype).removeprefix("torch."))
        for name, value in batch.items()
        if isinstance(value, torch.Tensor)
    ]


def audio_segments(input_ids: np.ndarray, audio_label_rows: list[np.ndarray], audio_ids: tuple[int, int], num_codebooks: int) -> list[AudioSegment]:
    """Segments per sample: contiguous runs of audio positions, in order; frame counts exclude
    the stream BOS/EOS and the delay padding."""
    segments = []
    for sample, ids in enumerate(input_ids):
        is_audio = np.isin(ids, audio_ids)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], is_audio.astype(np.int8), [0]))))
        frame_cursor = 0
        labels = audio_label_rows[sample]
        for start, end in zip(edges[::2], edges[1::2]):
            length = int(end - start)
            trained = bool((labels[frame_cursor : frame_cursor + length] != -100).any()) if labels.size else False
            segments.append(
                AudioSegment(
                    sample=sample, role="target" if trained else "reference",
                    start=int(start), end=int(end), frames=max(length - 2 - (num_codebooks - 1), 0),
                )
            )
            frame_cursor += length
    return segments


def input_snapshot_fields(batch: dict, audio_ids: tuple[int, int], num_codebooks: int) -> dict:
    """Fields of an InputSnapshot message from one forward call's keyword arguments."""
    input_ids = batch["input_ids"].detach().cpu().numpy()  # device->host copy: capture steps only
    rows: list[np.ndarray] = []
    if "audio_labels" in batch and "audio_input_ids_mask" in batch:
        labels = batch["audio_labels"].detach().cpu().numpy()
        mask = batch["audio_input_ids_mask"].detach().cpu().numpy()
        rows = [labels[i][mask[i]] for i in range(len(labels))]
    else:
        rows = [np.empty((0, num_codebooks), dtype=np.int64) for _ in range(len(input_ids))]
    meta = batch.get("sample_meta") or []
    return {
        "tensors": tensor_table(batch),
        "input_ids": Array.from_numpy(input_ids[0].astype(np.int32)),
        "segments": audio_segments(input_ids, rows, audio_ids, num_codebooks),
        "sample_ids": [str(m.get("sample_id", "")) for m in meta],
        "speakers": [str(m.get("speaker", "")) for m in meta],
        "languages": [str(m.get("language", "")) for m in meta],
    }
