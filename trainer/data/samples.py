"""Training samples for zero-shot voice cloning, read from the user's data file.

Two shapes are accepted: the ChatML JSON array the original Higgs pipeline used (system /
user [reference transcript, reference audio, "generate ...: target"] / assistant [target text,
target audio]) and a flat JSONL manifest. Both become the same `VoiceCloningSample`, so every
later stage (validation, audio codes, sequences) has one input type. A sample that cannot be
read becomes a `SampleError` naming the sample and the file, never a bare KeyError; the errors are
collected per sample, so `--skip_bad_samples` can leave out the bad ones and keep the rest.
An audio item may select a slice of its file with `offset` / `duration` in seconds (null = from
the start / to the end): an `AudioClip` carries the slice to the loader and to the cache key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SYSTEM_PROMPT = "Speak in the voice heard in the reference clip."


class SampleError(ValueError):
    """A training sample that cannot be used; the message names the sample and the file."""

    def __init__(self, sample_id: str, file: str | Path | AudioClip, reason: str):
        self.sample_id = sample_id
        self.file = str(file)
        self.reason = reason
        super().__init__(f"sample {sample_id!r} ({self.file}): {reason}")


@dataclass(frozen=True)
class AudioClip:
    """An audio file, or the slice of it that starts at `offset` seconds and lasts `duration`."""

    path: Path
    offset: float | None = None
    duration: float | None = None

    @property
    def is_whole_file(self) -> bool:
        return not self.offset and self.duration is None

    def __str__(self) -> str:
        if self.is_whole_file:
            return str(self.path)
        end = "end" if self.duration is None else f"{(self.offset or 0) + self.duration:g} s"
        return f"{self.path} [{self.offset or 0:g} s to {end}]"


@dataclass
class SampleSet:
    """The usable samples of a data file and, for the others, why each one cannot be used."""

    samples: list[VoiceCloningSample]
    errors: list[SampleError]


@dataclass(frozen=True)
class VoiceCloningSample:
    """One reference clip + transcript and one target clip + transcript of the same speaker."""

    sample_id: str
    speaker: str
    language: str
    system_prompt: str
    ref_text: str
    ref_audio: AudioClip
    target_text: str
    target_audio: AudioClip
    label_reference_turn: bool = False
    """Whether the reference-audio assistant turn's own tokens (`<|audio_out_bos|>`,
    `<|audio_eos|>`, `<|eot_id|>`) are text labels, as the original recipe trains every
    assistant turn from start_index on; the reference codes stay conditioning either way."""


def load_samples(data_file: str | Path) -> SampleSet:
    """Read a ChatML JSON array (.json) or a JSONL manifest (.jsonl); audio paths resolve
    relative to the data file, as the original pipeline did. A file that is not JSON at all
    raises; a record that is not a usable sample is reported in `SampleSet.errors`."""
    path = Path(data_file)
    if not path.is_file():
        raise FileNotFoundError(f"training data file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        parsed = SampleSet([], [])
        for line_number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    parsed.errors.append(SampleError(f"line {line_number}", path, f"invalid JSON: {error}"))
                    continue
                _collect(parsed, _from_manifest, record, line_number, path)
        return parsed
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON: {error}") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON array of ChatML samples, got {type(records).__name__}")
    parsed = SampleSet([], [])
    for index, record in enumerate(records):
        _collect(parsed, _from_chatml, record, index, path)
    return parsed


def _collect(parsed: SampleSet, reader, record: Any, index: int, data_file: Path) -> None:
    try:
        parsed.samples.append(reader(record, index, data_file))
    except SampleError as error:
        parsed.errors.append(error)


def _from_chatml(record: Any, index: int, data_file: Path) -> VoiceCloningSample:
    fallback_id = f"#{index}"
    if not isinstance(record, dict):
        raise SampleError(fallback_id, data_file, f"expected an object, got {type(record).__name__}")
    misc = record.get("misc") or {}
    sample_id = str(misc.get("sample_id") or fallback_id)
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise SampleError(sample_id, data_file, "missing key 'messages' (a list)")
    by_role: dict[str, list[dict]] = {}
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            raise SampleError(sample_id, data_file, "a message without a 'role'")
        by_role.setdefault(message["role"], []).append(message)
    for role in ("user", "assistant"):
        if role not in by_role:
            raise SampleError(sample_id, data_file, f"no {role!r} message")
    system = by_role.get("system", [{"content": DEFAULT_SYSTEM_PROMPT}])[0]["content"]
    user_texts, user_audio = _split_content(by_role["user"][0], sample_id, data_file)
    assistant_texts, assistant_audio = _split_content(by_role["assistant"][0], sample_id, data_file)
    if len(user_audio) != 1:
        raise SampleError(sample_id, data_file, f"expected 1 reference audio in the user message, found {len(user_audio)}")
    if len(assistant_audio) != 1:
        raise SampleError(sample_id, data_file, f"expected 1 target audio in the assistant message, found {len(assistant_audio)}")
    ref_text = misc.get("ref_transcript") or (user_texts[0] if user_texts else "")
    target_text = misc.get("target_transcript") or (assistant_texts[0] if assistant_texts else "")
    if not target_text and len(user_texts) >= 2:
        target_text = user_texts[-1].rsplit(":", 1)[-1].strip()
    return VoiceCloningSample(
        sample_id=sample_id,
        speaker=str(record.get("speaker") or misc.get("speaker") or "unknown"),
        language=str(misc.get("language") or record.get("language") or "unknown"),
        system_prompt=system if isinstance(system, str) else DEFAULT_SYSTEM_PROMPT,
        ref_text=str(ref_text).strip(),
        ref_audio=user_audio[0],
        target_text=str(target_text).strip(),
        target_audio=assistant_audio[0],
    )


def _split_content(message: dict, sample_id: str, data_file: Path) -> tuple[list[str], list[AudioClip]]:
    content = message.get("content")
    if isinstance(content, str):
        return [content], []
    if not isinstance(content, list):
        raise SampleError(sample_id, data_file, f"{message['role']} content must be a string or a list")
    texts, audio = [], []
    for item in content:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text":
            texts.append(str(item.get("text", "")))
        elif kind == "audio":
            url = item.get("audio_url") or item.get("url") or item.get("path")
            if not url:
                raise SampleError(sample_id, data_file, f"{message['role']} audio item without 'audio_url'")
            audio.append(_clip(str(url), item.get("offset"), item.get("duration"), sample_id, data_file))
        else:
            raise SampleError(sample_id, data_file, f"{message['role']} content item of unknown type {kind!r}")
    return texts, audio


def _from_manifest(record: Any, line_number: int, data_file: Path) -> VoiceCloningSample:
    fallback_id = f"line {line_number}"
    sample_id = str(record.get("sample_id") or fallback_id) if isinstance(record, dict) else fallback_id
    if not isinstance(record, dict):
        raise SampleError(sample_id, data_file, "expected a JSON object per line")
    missing = [key for key in ("ref_audio", "ref_text", "target_audio", "target_text") if key not in record]
    if missing:
        raise SampleError(sample_id, data_file, f"missing keys: {', '.join(missing)}")
    return VoiceCloningSample(
        sample_id=sample_id,
        speaker=str(record.get("speaker") or "unknown"),
        language=str(record.get("language") or "unknown"),
        system_prompt=str(record.get("system_prompt") or DEFAULT_SYSTEM_PROMPT),
        ref_text=str(record["ref_text"]).strip(),
        ref_audio=_clip(record["ref_audio"], record.get("ref_offset"), record.get("ref_duration"), sample_id, data_file),
        target_text=str(record["target_text"]).strip(),
        target_audio=_clip(record["target_audio"], record.get("target_offset"), record.get("target_duration"), sample_id, data_file),
    )


def _clip(audio_path: str, offset: Any, duration: Any, sample_id: str, data_file: Path) -> AudioClip:
    path = Path(audio_path)
    path = path if path.is_absolute() else (data_file.parent / path)
    for name, value in (("offset", offset), ("duration", duration)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise SampleError(sample_id, path, f"audio {name} must be null or seconds >= 0, got {value!r}")
    if duration == 0:
        raise SampleError(sample_id, path, "audio duration is 0 s")
    return AudioClip(path, None if offset is None else float(offset), None if duration is None else float(duration))
