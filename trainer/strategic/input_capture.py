"""The input snapshot: what went into the model on a capture step.

Only small things leave the device: the shapes of every tensor, the first sample's input
ids, and the audio segment table from the batch layout.
"""

from __future__ import annotations

import numpy as np
import torch

from protocol import Array, AudioSegment, TensorInfo
from trainer.strategic.batch_layout import BatchLayout


def tensor_table(batch: dict) -> list[TensorInfo]:
    return [
        TensorInfo(name=name, shape=list(value.shape), dtype=str(value.dtype).removeprefix("torch."))
        for name, value in batch.items()
        if isinstance(value, torch.Tensor)
    ]


def input_snapshot_fields(batch: dict, layout: BatchLayout) -> dict:
    """Fields of an InputSnapshot message from one forward call's keyword arguments."""
    meta = batch.get("sample_meta") or []
    return {
        "tensors": tensor_table(batch),
        "input_ids": Array.from_numpy(layout.input_ids[0].astype(np.int32)),
        "segments": [
            AudioSegment(sample=c.sample, role=c.role, start=c.start, end=c.end, frames=c.codec_frames) for c in layout.clips
        ],
        "sample_ids": [str(m.get("sample_id", "")) for m in meta],
        "speakers": [str(m.get("speaker", "")) for m in meta],
        "languages": [str(m.get("language", "")) for m in meta],
    }
