"""The input snapshot: what went into the model on a capture step.

Only small things leave the device: the shapes of every tensor, the first sample's input
ids, and the audio segment table from the batch layout, with each clip's repeated-code share
(a constant clip, e.g. silence, carries no voice).
"""

from __future__ import annotations

import numpy as np
import torch

from stratlog.protocol import Array, AudioSegment, TensorInfo
from stratlog.trainer.strategic.batch_layout import BatchLayout


def tensor_table(batch: dict) -> list[TensorInfo]:
    return [
        TensorInfo(name=name, shape=list(value.shape), dtype=str(value.dtype).removeprefix("torch."))
        for name, value in batch.items()
        if isinstance(value, torch.Tensor)
    ]


def repeated_code_shares(layout: BatchLayout) -> list[float]:
    """Per clip of `layout.clips`: the share of its codec frames whose codebook-0 code is its most
    common one (-1 for a clip without frames). Codebook 0 has no delay: a clip's codes sit in the
    rows after its stream BOS row."""
    shares = []
    for clip in layout.clips:
        first = clip.first_frame_row + 1
        codes = layout.frames[clip.sample][first : first + clip.codec_frames, 0]
        shares.append(float(np.unique(codes, return_counts=True)[1].max() / codes.size) if codes.size else -1.0)
    return shares


def pair_similarity_of(meta: list[dict], clip) -> float:
    """A reference clip's pair check score from its sample's metadata; -1 (not measured) for a
    target clip or where the data was prepared before the check."""
    if clip.role != "reference" or clip.sample >= len(meta):
        return -1.0
    return float(meta[clip.sample].get("pair_similarity", -1.0))


def input_snapshot_fields(batch: dict, layout: BatchLayout) -> dict:
    """Fields of an InputSnapshot message from one forward call's keyword arguments."""
    meta = batch.get("sample_meta") or []
    shares = repeated_code_shares(layout)
    return {
        "tensors": tensor_table(batch),
        "input_ids": Array.from_numpy(layout.input_ids[0].astype(np.int32)),
        "segments": [
            AudioSegment(sample=c.sample, role=c.role, start=c.start, end=c.end, frames=c.codec_frames,
                         repeated_code_share=round(share, 4), pair_similarity=pair_similarity_of(meta, c))
            for c, share in zip(layout.clips, shares)
        ],
        "sample_ids": [str(m.get("sample_id", "")) for m in meta],
        "speakers": [str(m.get("speaker", "")) for m in meta],
        "languages": [str(m.get("language", "")) for m in meta],
    }
