"""The human log: the seed's tree format, one entry per step and rank, with the findings.

    === Zero-Shot Voice Cloning Training Log - Step 100 ===
    Timestamp: 2023-08-15 14:32:45 UTC
    Rank: 0 of 2 (run 3f2a...)

    Input Sequence Analysis:
    ├── Tokenized Input Shape: torch.Size([4, 512])
    ├── ...
    └── [OK] truncation: the first sample ends with <|eot_id|> at position 511

    Output Analysis:
    ...

Each snapshot kind renders one tree (a "section": its row in `sink.snapshot_kinds` names the
function, which takes the snapshot, its findings and the run's context); `sink.log_entries`
gathers the sections of one step of one rank under one header. Stream and metrics findings
are one-line notices. Times come from the message (the rank's clock), never from the sink's,
so replaying a recording writes the same text as the live run did.
"""

from __future__ import annotations

from itertools import accumulate
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np

from stratlog.protocol import AttentionSnapshot, InputSnapshot, OutputSnapshot, RunEnd, RunStart, ZeroShotSnapshot
from stratlog.sink.analysis.input import input_ids_shape
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.analysis.zero_shot import effects
from stratlog.sink.findings import Finding
from stratlog.sink.printable import ONE_BYTE_ESCAPES, escaped

AUDIO_ROLES = ("reference", "target")
"""The segment roles whose counts the input section shows."""
SHOWN_TEXT = 300
"""Decoded texts longer than this are cut in the log (the JSONL and dashboard keep the ids)."""


def timestamp(unix_time: float) -> str:
    """The sender's time in UTC; a time no calendar holds (inf, NaN, 1e300: any float can arrive)
    is shown as it is rather than losing the entry. The text shows whole seconds, so a time past
    0 whose fraction cannot round up to the next second (datetime rounds to microseconds) is the
    text of its second, made once (`_second_text`): every rank's entries of a step share it."""
    try:
        if 0 <= unix_time and unix_time % 1.0 < 0.999:
            return _second_text(int(unix_time))
        return _utc_text(unix_time)
    except (OverflowError, ValueError, OSError):
        return f"{unix_time!r} (not a time)"


def _utc_text(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


_second_text = lru_cache(maxsize=256)(_utc_text)
"""`_utc_text` of a whole second, kept (strftime costs ~5 us a call)."""


LINE_ESCAPES = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"))
"""Newlines in decoded text (the chat template has them) would break the tree: they are escaped
(backslashes too, so an escape in the log is never text; the log file escapes the other control
characters, `LogFiles.write_human`)."""


LOG_LINE_ESCAPES = LINE_ESCAPES + tuple((character, escape) for character, escape in ONE_BYTE_ESCAPES
                                       if character not in dict(LINE_ESCAPES))
"""LINE_ESCAPES, then `printable`'s of the other ASCII controls: printable(one_line(text)) of a text
is printable of the text with these made."""


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with LINE_ESCAPES made, cut at `limit` characters."""
    return _cut(escaped(text, LINE_ESCAPES), limit)


def decoded_line(context: RunContext, ids, limit: int | None = None) -> str:
    """`one_line(context.render(ids), limit)`, with the escapes made by the decoder in each token's
    bytes (`token_decoding.RenderTable`: at no cost per token, where escaping an input's 10 kB of
    text costs ~9 us). A whole line gets the log file's escapes of the ASCII controls too
    (`printable`, which finds them made: the bench's random ids decode to ~30 per input); a line
    cut at `limit` characters does not, as the cut counts the characters before them."""
    return _cut(context.render(ids, LINE_ESCAPES if limit is not None else LOG_LINE_ESCAPES), limit)


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


def tree(title: str, rows: list[tuple[str, str]], findings: list[Finding]) -> str:
    lines = [f"{label}: {value}" for label, value in rows]
    lines += [f"[{f.severity}] {f.check}: {f.reason}" for f in findings]
    last = lines.pop() if lines else None
    return "\n├── ".join([f"{title}:", *lines]) + (f"\n└── {last}" if last is not None else "")


def entry_header(message) -> str:
    return (
        f"=== Zero-Shot Voice Cloning Training Log - Step {message.step} ===\n"
        f"Timestamp: {timestamp(message.time)}\n"
        f"Rank: {message.rank} of {message.world_size} (run {message.run_id})\n"
    )


def _first_last(values: np.ndarray, count: int = 10) -> str:
    """The first and last `count` values as lists (only those are made into Python numbers)."""
    return (str(values.tolist()) if len(values) <= 2 * count
            else f"{values[:count].tolist()} ... {values[-count:].tolist()}")


_DECIMALS = np.array([str(number) for number in range(4096)], dtype=object)
"""The decimal texts of small ints: an output section writes ~320 audio codes (< 1 026 in Higgs),
and taking their texts from here costs a third of Python writing each."""


def _first_last_rows(values: np.ndarray, count: int = 10) -> list[str]:
    """`_first_last` of each values[k]; rows of small ints shown whole are written from _DECIMALS."""
    if (values.ndim == 2 and values.dtype.kind in "iu" and values.size and values.shape[1] <= 2 * count
            and _all_in_decimals(values)):
        return [f"[{', '.join(row)}]" for row in _DECIMALS.take(values).tolist()]
    return [_first_last(row, count) for row in values]


def _all_in_decimals(values: np.ndarray) -> bool:
    """Whether every int is in 0 .. len(_DECIMALS) - 1, with one reduction: a negative int of 16
    bits or more read as unsigned is at least 2 ** 15 (8-bit ints are all below the table's end)."""
    if values.itemsize == 1:
        return values.dtype.kind == "u" or values.min() >= 0
    return values.view(f"u{values.itemsize}").max() < len(_DECIMALS)


def input_section(message: InputSnapshot, findings: list[Finding], context: RunContext) -> str:
    ids = message.input_ids.to_numpy().reshape(-1)
    first = [segment for segment in message.segments if segment.sample == 0]
    frames, counts = dict.fromkeys(AUDIO_ROLES, 0), dict.fromkeys(AUDIO_ROLES, 0)
    for segment in message.segments:
        if segment.role in counts:
            frames[segment.role] += segment.frames
            counts[segment.role] += 1
    rows = [
        ("Tokenized Input Shape", f"torch.Size({input_ids_shape(message)})"),
        ("Tensors", ", ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in message.tensors)),
        ("Decoded Text (first sample)", f'"{decoded_line(context, ids)}"'),
        ("Sample input_ids (first 20)", f"{ids[:20].tolist()}{' ...' if len(ids) > 20 else ''}"),
        ("Audio Tokens", ", ".join(f"{role} audio: {counts[role]} segment(s), {frames[role]} frames"
                                   for role in AUDIO_ROLES)),
        ("Audio Segments (first sample)",
         "; ".join(f"{s.role} tokens {s.start}-{s.end} ({s.frames} frames)" for s in first) or "none"),
        ("Samples", ", ".join(f"{sample_id} ({speaker}, {language})" for sample_id, speaker, language
                              in zip(message.sample_ids, message.speakers, message.languages)) or "no sample metadata"),
    ]
    return tree("Input Sequence Analysis", rows, findings)


def output_section(message: OutputSnapshot, findings: list[Finding], context: RunContext) -> str:
    labels = message.text_labels.to_numpy()
    predictions = message.text_predictions.to_numpy()
    audio_labels = message.audio_labels.to_numpy()
    audio_predictions = message.audio_predictions.to_numpy()
    codebooks = min(len(audio_labels), len(audio_predictions))
    codebook_rows = [
        (f"Audio Codebook {k} (predicted vs label)", f"{predicted} vs {label}")
        for k, (predicted, label) in enumerate(zip(_first_last_rows(audio_predictions[:codebooks]),
                                                   _first_last_rows(audio_labels[:codebooks])))
    ]
    rows = [
        ("Losses", f"text {message.text_loss:.4f}, audio {message.audio_loss:.4f}, per codebook "
                   f"{message.codebook_losses.to_numpy().astype(float).round(4).tolist()}"),
        ("Accuracy", f"text {message.text_accuracy:.2%} of {message.text_label_count} label positions, audio "
                     f"{message.audio_accuracy:.2%} (per codebook "
                     f"{message.codebook_accuracies.to_numpy().astype(float).round(4).tolist()})"),
        ("Text Predictions (first and last 10)", _first_last(predictions)),
        ("Text Labels (first and last 10)", _first_last(labels)),
        ("Decoded Target Text", f'"{decoded_line(context, message.target_text_ids.to_numpy(), SHOWN_TEXT)}"'),
        ("Decoded Predicted Text", f'"{decoded_line(context, message.predicted_text_ids.to_numpy(), SHOWN_TEXT)}"'),
        ("Audio Frames Shown", f"{_first_last(message.audio_frames.to_numpy())} of "
                               f"{message.audio_frame_count} target frames"),
        *codebook_rows,
    ]
    return tree("Output Analysis", rows, findings)


def _spread(values: np.ndarray) -> str:
    values = values.astype(float)
    if values.size == 0:
        return "none"
    mean = values.sum() / values.size  # np.mean's number, without its Python wrapper
    if np.isnan(mean):  # NumPy's nan-functions cost ~10x more; with no NaN they give the same numbers
        mean, low, high = np.nanmean(values), np.nanmin(values), np.nanmax(values)
    else:
        low, high = values.min(), values.max()
    return f"mean {mean:.4g} (min {low:.4g}, max {high:.4g})"


_SPREAD = "mean %.4g (min %.4g, max %.4g)"
"""`_spread`'s text of three Python floats: %-formatting writes the same digits as format's .4g
(both are float's repr at 4 significant digits) for ~3/4 of its cost, 27 numbers per attention section."""


def _spreads(tables: list) -> list[str]:
    """`_spread` of each table, all reduced together: their values in one array, cut at each
    table's start by `reduceat` (three NumPy reductions for nine tables instead of twenty-seven).
    Each table's numbers are its own: `add.reduceat` sums a segment with the same pairwise sum as
    the table's own `sum` (which starts from +0: a zero sum's sign can differ, so a table with a
    zero mean takes `_spread`'s way, as does one with a NaN mean)."""
    arrays = [table.to_numpy() for table in tables]
    shown = [_spread(values) if not values.size else "" for values in arrays]  # "none"
    filled = [index for index, values in enumerate(arrays) if values.size]
    if not filled:
        return shown
    sizes = [arrays[index].size for index in filled]
    values = np.concatenate([arrays[index] for index in filled], axis=None, dtype=float)
    starts = np.fromiter(accumulate(sizes[:-1], initial=0), dtype=np.intp, count=len(sizes))
    means = [total / size for total, size in zip(np.add.reduceat(values, starts).tolist(), sizes)]  # IEEE, as NumPy's
    lows, highs = np.minimum.reduceat(values, starts).tolist(), np.maximum.reduceat(values, starts).tolist()
    for index, mean, low, high in zip(filled, means, lows, highs):
        exact = mean == mean and mean != 0
        shown[index] = _SPREAD % (mean, low, high) if exact else _spread(arrays[index])
    return shown


def _bin_totals(histogram: np.ndarray) -> list:
    """Each bin's count summed over all heads (the last axis is the bins). Integer counts (the
    protocol's) are summed along the contiguous axis of a transposed copy, ~2x faster than adding
    the 672 rows of 10 bins one by one; integers give the same totals in any order."""
    if histogram.ndim < 1 or not histogram.size:
        return []
    rows = histogram.reshape(-1, histogram.shape[-1])
    if histogram.dtype.kind in "biu":
        return np.ascontiguousarray(rows.T).sum(axis=1).tolist()
    return rows.sum(axis=0).tolist()


KEPT_IDS = 256
"""Lists up to this long have their text kept (`_ids_text`)."""


def _ids_text(values: list[int]) -> str:
    """`str(values)` of a run's sampled layers, heads and DualFFN layers, kept: every attention
    snapshot of a run names the same ones (~80 ints, whose texts cost ~4 us a snapshot to make
    again). Only short lists are kept (a model's layers and heads), so a sender's long ones
    cannot hold memory. The key is the decoded ints (the protocol's IntList: no bool or float)."""
    return _kept_ids_text(tuple(values)) if len(values) <= KEPT_IDS else str(values)


@lru_cache(maxsize=16)
def _kept_ids_text(values: tuple[int, ...]) -> str:
    return str(list(values))


def attention_section(message: AttentionSnapshot, findings: list[Finding], context: RunContext) -> str:
    summed = _bin_totals(message.max_weight_histogram.to_numpy())
    (text_to_audio, audio_to_text, target_to_reference, entropy, max_weight, text_grad, audio_grad, text_update,
     audio_update) = _spreads([
        message.text_to_audio, message.audio_to_text, message.target_to_reference, message.entropy,
        message.max_weight, message.text_ffn_grad_norm, message.audio_ffn_grad_norm, message.text_ffn_update_ratio,
        message.audio_ffn_update_ratio])
    rows = [
        ("Sampled Heads", f"layers {_ids_text(message.layers)} x heads {_ids_text(message.heads)} "
                          f"(sample {message.sample})"),
        ("Text -> Audio Attention Mass", text_to_audio),
        ("Audio -> Text Attention Mass", audio_to_text),
        ("Target -> Reference Attention Mass", target_to_reference),
        ("Attention Entropy (nats)", entropy),
        ("Max Attention Weight", max_weight),
        ("Max-Weight Histogram (all heads, bins over [0, 1])", str(summed)),
        ("DualFFN Layers", _ids_text(message.ffn_layers)),
        ("Text FFN Grad Norm", text_grad),
        ("Audio FFN Grad Norm", audio_grad),
        ("Text FFN Update Ratio", text_update),
        ("Audio FFN Update Ratio", audio_update),
    ]
    return tree("Shared Attention / DualFFN Analysis", rows, findings)


def zero_shot_section(message: ZeroShotSnapshot, findings: list[Finding], context: RunContext) -> str:
    rows_effect = effects(message)
    true = message.true_reference_loss.to_numpy().astype(float)
    swapped = message.swapped_reference_loss.to_numpy().astype(float)
    rows = [
        (f"Sample {sample_id}",
         f"{speaker} ({language}) with {swapped_speaker}'s reference ({swapped_language}): true {true[i]:.4f}, "
         f"swapped {swapped[i]:.4f}, effect {rows_effect[i]:+.4f}")
        for i, (sample_id, speaker, swapped_speaker, language, swapped_language) in enumerate(zip(
            message.sample_ids, message.speakers, message.swapped_speakers, message.languages,
            message.swapped_languages)) if i < len(rows_effect)
    ]
    if message.skipped_reason:
        rows.append(("Skipped", message.skipped_reason))
    return tree("Zero-Shot Verification", rows, findings)


def notice(finding: Finding) -> str:
    """A stream or metrics finding as a one-line notice between entries."""
    where = f"rank {finding.rank}, step {finding.step}" if finding.rank is not None else "stream"
    return f"[{finding.severity}] {finding.analysis}.{finding.check} ({where}): {finding.reason}\n\n"


def run_start_entry(message: RunStart) -> str:
    return (
        f"=== Run {message.run_id} started on rank {message.rank} of {message.world_size} "
        f"({message.hostname}, pid {message.pid}) at {timestamp(message.time)} ===\n"
        f"Model: {message.model_path}\nAudio tokenizer: {message.audio_tokenizer_path}\n"
        f"Capture every {message.capture_interval} steps\n\n"
    )


def run_aborted_entry(run_id: str, reason: str) -> str:
    """A run whose ranks stopped without their run end (`stream.run_aborted_finding`)."""
    return f"=== Run {run_id} aborted: {reason} ===\n\n"


def resumed_entry(run_id: str, ranks: dict[int, int], source: str) -> str:
    """A sink started on a log folder whose previous recording holds this run (`sink.resume`)."""
    where = ", ".join(f"rank {rank} at seq {seq}" for rank, seq in sorted(ranks.items()))
    return f"=== Run {run_id} continued from {source} after a sink restart: {where} ===\n\n"


def run_end_entry(message: RunEnd) -> str:
    return (
        f"=== Run {message.run_id} ended on rank {message.rank}: {message.status} at step {message.step} "
        f"({message.messages_sent} messages sent, {message.messages_dropped} dropped) ===\n\n"
    )
