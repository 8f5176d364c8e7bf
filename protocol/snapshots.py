"""The four strategic snapshots (input, output, attention/DualFFN, zero-shot) and their parts.

Each snapshot carries the cheap raw measurements a rank takes on a capture step; judging them
(OK / WARN / FAIL) happens in the sink, never on the training rank. Every numeric table is an
:class:`~protocol.arrays.Array`, so the four full-size snapshots of a step take about 52 KiB
and decode without a Python object per number. Integer tables may use any whitelisted integer
dtype (senders use int32 or int64); float tables use float32 unless said otherwise.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from stratlog.protocol.arrays import Array
from stratlog.protocol.envelope import Envelope
from stratlog.protocol.limits import MAX_ITEMS, MAX_NDIM, Count, Int, IntList, Text, TextList


class TensorInfo(msgspec.Struct, kw_only=True):
    """Shape and dtype of one batch tensor."""

    name: Text
    """Batch key, e.g. ``input_ids``, ``audio_labels``."""
    shape: Annotated[list[Int], Meta(max_length=MAX_NDIM)]
    dtype: Text
    """The framework's dtype name (e.g. ``int64``, ``bfloat16``), free text."""


class AudioSegment(msgspec.Struct, kw_only=True):
    """Where one audio clip sits in a sample's token sequence."""

    sample: Count
    """Batch index of the sample."""
    role: Literal["reference", "target"]
    """``reference`` (the voice to clone) or ``target`` (the speech to generate); nothing else."""
    start: Count
    """First token position of the segment."""
    end: Count
    """One past its last token position."""
    frames: Count
    """Codec frames of the clip."""
    repeated_code_share: float = -1.0
    """Share of the clip's codec frames whose codebook-0 code is its most common one: near 1 the
    clip is constant (silence, a stuck recording). -1: not measured (senders before 1.1)."""
    pair_similarity: float = -1.0
    """On a reference segment: the speaker-embedding cosine between this reference clip and its
    sample's target clip, measured once at prepare time (1 for the same file or the same codes).
    Low: the reference is another speaker's; near 1: the reference is the target itself. -1: not
    measured (target segments, data prepared without the pair check, senders before 1.3)."""


class InputSnapshot(Envelope, kw_only=True, tag="input_snapshot"):
    """What went into the model on a capture step."""

    tensors: Annotated[list[TensorInfo], Meta(max_length=MAX_ITEMS)]
    """Every tensor of the batch."""
    input_ids: Array
    """All token ids of the first sample, shape [sequence length]."""
    segments: Annotated[list[AudioSegment], Meta(max_length=MAX_ITEMS)]
    """Audio segments of every sample of the batch."""
    sample_ids: TextList
    """One per sample, batch order."""
    speakers: TextList
    """Speaker of each sample."""
    languages: TextList
    """Language code of each sample (``""`` when unknown)."""


class OutputSnapshot(Envelope, kw_only=True, tag="output_snapshot"):
    """Predictions against labels on a capture step.

    Losses and accuracies cover the captured batch; the position tables cover one sample.
    "Shown" positions are the first 10 and last 10 label positions (all of them when there
    are at most 20), ascending; a prediction is the argmax of the logits that predict the label.
    """

    sample: Count = 0
    """Batch index of the sample the position tables describe."""
    text_loss: float
    audio_loss: float
    """Mean over codebooks of the per-codebook audio losses."""
    text_accuracy: float
    """Fraction of text label positions predicted exactly."""
    audio_accuracy: float
    """Mean over codebooks of ``codebook_accuracies``."""
    codebook_losses: Array
    """Shape [codebooks]."""
    codebook_accuracies: Array
    """Shape [codebooks]."""
    text_label_count: Count
    """Text label positions of the sample (unmasked labels)."""
    text_positions: Array
    """Shown text label positions (token positions in the sample), shape [n]."""
    text_labels: Array
    """Label token ids at ``text_positions``, shape [n]."""
    text_predictions: Array
    """Predicted token ids at ``text_positions``, shape [n]."""
    text_match: Array
    """bool, ``text_predictions == text_labels``, shape [n]."""
    target_text_ids: Array
    """Every text label id of the sample in order, shape [m]: the sink decodes it as the
    target text."""
    predicted_text_ids: Array
    """Predictions at the same positions, shape [m]: decoded as the predicted text."""
    audio_frame_count: Count
    """Target-audio label frames of the sample."""
    audio_frames: Array
    """Shown target-audio frame indices (0 = first frame of the target clip), shape [f]."""
    audio_labels: Array
    """Codec labels at ``audio_frames``, shape [codebooks, f]."""
    audio_predictions: Array
    """Predicted codes at ``audio_frames``, shape [codebooks, f]."""
    target_codes: Array = msgspec.field(default_factory=lambda: Array(dtype="int32", shape=[0], data=b""))
    """The sample's whole target clip, codec codes without the delay pattern, shape [codebooks, t],
    or [0] when not sent (senders before 1.3): what a sink with the audio tokenizer plays."""
    predicted_codes: Array = msgspec.field(default_factory=lambda: Array(dtype="int32", shape=[0], data=b""))
    """The teacher-forced predictions at the target's frames, shape [codebooks, p] (p = t from our
    sender; its own letter because either table may be [0] alone), or [0]."""
    reference_codes: Array = msgspec.field(default_factory=lambda: Array(dtype="int32", shape=[0], data=b""))
    """The sample's reference clip, codec codes without the delay pattern, shape [codebooks, r], or [0]."""


class AttentionSnapshot(Envelope, kw_only=True, tag="attention_snapshot"):
    """Reduced statistics of real attention weights, and DualFFN training health.

    Attention tables have shape [layers, heads] (``len(layers)``, ``len(heads)``) and are means
    over the query positions of the named kind in one sample; a mass is the summed attention
    weight a query puts on key positions of the named kind.
    """

    sample: Count = 0
    """Batch index of the sample whose attention was measured."""
    layers: IntList
    """Sampled decoder layer indices: the rows of every attention table."""
    heads: IntList
    """Sampled head indices: the columns of every attention table."""
    text_to_audio: Array
    """Mass on audio keys, from text queries."""
    audio_to_text: Array
    """Mass on text keys, from audio queries."""
    target_to_reference: Array
    """Mass on reference-audio keys, from target-audio queries."""
    entropy: Array
    """Attention entropy in nats."""
    max_weight: Array
    """Largest attention weight."""
    max_weight_histogram: Array
    """Query counts by largest weight in B equal bins over [0, 1] (the last bin includes 1),
    integer, shape [layers, heads, B]."""
    ffn_layers: IntList
    """Decoder layers with a DualFFN: the rows of the four FFN tables, shape [F] each."""
    text_ffn_grad_norm: Array
    """L2 norm of the text FFN's gradient on this step."""
    audio_ffn_grad_norm: Array
    """L2 norm of the audio FFN's gradient on this step."""
    text_ffn_update_ratio: Array
    """``||weights after - weights before|| / ||weights before||`` of the text FFN."""
    audio_ffn_update_ratio: Array
    """The same for the audio FFN."""


class ZeroShotSnapshot(Envelope, kw_only=True, tag="zero_shot_snapshot"):
    """Conditioning effect: target-audio loss with the true reference vs a swapped one.

    One row per sample of the batch (shape [n] tables, the lists of length n); the sink
    aggregates rows per speaker and per (target language, reference language) pair. The
    swapped forward runs without gradients and changes nothing in training.
    """

    sample_ids: TextList
    speakers: TextList
    """Speaker of the target (and of its true reference)."""
    swapped_speakers: TextList
    """Speaker of the reference swapped in from another sample of the batch."""
    languages: TextList
    """Language of the target."""
    swapped_languages: TextList
    """Language of the swapped-in reference."""
    true_reference_loss: Array
    """Target-audio loss (mean over codebooks and target frames) with the true reference."""
    swapped_reference_loss: Array
    """The same with the swapped reference."""
    target_to_reference_attention: Array
    """Mean attention mass from target-audio to reference-audio positions with the true
    reference, shape [n], or [0] when attention was not measured."""
    skipped_reason: Text = ""
    """Why there are no rows (for example every sample has the same speaker); empty otherwise."""
