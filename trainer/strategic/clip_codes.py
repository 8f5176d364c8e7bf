"""Whole clips' codec codes for the output snapshot, without the delay pattern: what a sink given
the run's audio tokenizer decodes to audio a person can hear (protocol 1.3's `target_codes`,
`predicted_codes`, `reference_codes`).

In the delayed layout codebook k's codes sit k rows after codebook 0's, between stream BOS/EOS
rows; a clip of T frames with C codebooks is at most C x T small ints (8 x 250 for 10 s of the real
codec), so the whole clip goes, not only the shown frames.
"""

from __future__ import annotations

import numpy as np

from stratlog.trainer.strategic.batch_layout import BatchLayout


def target_and_predicted_codes(labels: np.ndarray, predictions: np.ndarray, codec_size: int) -> tuple[np.ndarray, np.ndarray]:
    """[rows, C] label rows of one sample and the predictions at them -> ([C, t], [C, t]): per
    codebook, the rows whose label is a codec code (not masked, not stream BOS/EOS), in order."""
    codes = (labels >= 0) & (labels < codec_size)
    frames = int(codes.sum(axis=0).min()) if labels.size else 0
    target = [labels[codes[:, k], k][:frames] for k in range(labels.shape[1])]
    predicted = [predictions[codes[:, k], k][:frames] for k in range(labels.shape[1])]
    return np.asarray(target, dtype=np.int32).reshape(-1, frames), np.asarray(predicted, dtype=np.int32).reshape(-1, frames)


def reference_codes(layout: BatchLayout, sample: int) -> np.ndarray | None:
    """[C, r] codes of the sample's first reference clip, or None when it has none."""
    clip = next((c for c in layout.clips_of(sample) if c.role == "reference"), None)
    if clip is None:
        return None
    rows = layout.frames[sample]
    first = clip.first_frame_row + 1  # after codebook 0's stream BOS row
    return np.stack([rows[first + k: first + k + clip.codec_frames, k] for k in range(rows.shape[1])]).astype(np.int32)
