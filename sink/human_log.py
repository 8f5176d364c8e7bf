"""The human log: the seed's tree format, one entry per snapshot, per step and rank.

    === Zero-Shot Voice Cloning Training Log - Step 100 ===
    Timestamp: 2023-08-15 14:32:45 UTC
    Rank: 0 of 2 (run 3f2a...)

    Input Sequence Analysis:
    ├── Tokenized Input Shape: torch.Size([4, 512])
    ...

Times come from the message (the rank's clock), never from the sink's, so replaying a
recording writes the same text as the live run did.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from protocol import ErrorEvent, InputSnapshot, RunEnd, RunStart


def timestamp(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def one_line(text: str) -> str:
    """Newlines in decoded text (the chat template has them) would break the tree: escape them."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def tree(title: str, rows: list[tuple[str, str]]) -> str:
    lines = [f"{title}:"]
    for index, (label, value) in enumerate(rows):
        branch = "└──" if index == len(rows) - 1 else "├──"
        lines.append(f"{branch} {label}: {value}")
    return "\n".join(lines)


def entry_header(message) -> str:
    return (
        f"=== Zero-Shot Voice Cloning Training Log - Step {message.step} ===\n"
        f"Timestamp: {timestamp(message.time)}\n"
        f"Rank: {message.rank} of {message.world_size} (run {message.run_id})\n"
    )


def input_entry(message: InputSnapshot, decoded_text: str) -> str:
    ids = message.input_ids.to_numpy().tolist()
    by_name = {tensor.name: tensor for tensor in message.tensors}
    input_shape = by_name["input_ids"].shape if "input_ids" in by_name else [len(ids)]
    first = [segment for segment in message.segments if segment.sample == 0]
    frames = Counter()
    counts = Counter()
    for segment in message.segments:
        frames[segment.role] += segment.frames
        counts[segment.role] += 1
    rows = [
        ("Tokenized Input Shape", f"torch.Size({list(input_shape)})"),
        ("Tensors", ", ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in message.tensors)),
        ("Decoded Text (first sample)", f'"{one_line(decoded_text)}"'),
        ("Sample input_ids (first 20)", f"{ids[:20]}{' ...' if len(ids) > 20 else ''}"),
        (
            "Audio Tokens",
            ", ".join(f"{role} audio: {counts[role]} segment(s), {frames[role]} frames" for role in ("reference", "target")),
        ),
        (
            "Audio Segments (first sample)",
            "; ".join(f"{s.role} tokens {s.start}-{s.end} ({s.frames} frames)" for s in first) or "none",
        ),
        (
            "Samples",
            ", ".join(
                f"{sample_id} ({speaker}, {language})"
                for sample_id, speaker, language in zip(message.sample_ids, message.speakers, message.languages)
            ) or "no sample metadata",
        ),
    ]
    return entry_header(message) + "\n" + tree("Input Sequence Analysis", rows) + "\n\n"


def run_start_entry(message: RunStart) -> str:
    return (
        f"=== Run {message.run_id} started on rank {message.rank} of {message.world_size} "
        f"({message.hostname}, pid {message.pid}) at {timestamp(message.time)} ===\n"
        f"Model: {message.model_path}\nAudio tokenizer: {message.audio_tokenizer_path}\n"
        f"Capture every {message.capture_interval} steps\n\n"
    )


def run_end_entry(message: RunEnd) -> str:
    return (
        f"=== Run {message.run_id} ended on rank {message.rank}: {message.status} at step {message.step} "
        f"({message.messages_sent} messages sent, {message.messages_dropped} dropped) ===\n\n"
    )


def error_entry(message: ErrorEvent) -> str:
    return (
        f"!!! Capture error on rank {message.rank} at step {message.step} in {message.where}: "
        f"{message.error_type}: {message.message} (failure #{message.count})\n\n"
    )
