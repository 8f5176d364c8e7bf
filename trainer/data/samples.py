"""Training samples for zero-shot voice cloning, read from the user's data file.

Accepted: a ChatML JSON array in either layout Higgs data comes in (the original pipeline's 3
messages: system / user [reference transcript, reference audio, "generate ...: target"] /
assistant [target text, target audio]; or Higgs's own 5-turn voice-cloning layout: system / user
reference transcript / assistant reference audio / user target text / assistant target audio),
with `start_index`, and a flat JSONL manifest. All become the same `VoiceCloningSample`, so every
later stage (validation, audio codes, sequences) has one input type. A sample that cannot be
read becomes a `SampleError` naming the sample and the file, never a bare KeyError; the errors are
collected per sample, so `--skip_bad_samples` can leave out the bad ones and keep the rest.
An audio item may select a slice of its file with `offset` / `duration` in seconds (null = from
the start / to the end): an `AudioClip` carries the slice to the loader and to the cache key.
"""

from __future__ import annotations

import json
import re
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
    """Either ChatML layout: the reference audio is the first audio item, the target the last.

    - 3 messages (the original pipeline's): system / user [reference transcript, reference audio,
      "generate ...: target text"] / assistant [target text, target audio];
    - 5 turns (Higgs's own voice-cloning layout): system / user reference transcript / assistant
      reference audio / user target text / assistant target audio.

    `start_index` (null = 0) is the first trained turn: the target turn must be at or after it,
    and the reference turn, where it is an assistant turn, is trained from it on too."""
    fallback_id = f"#{index}"
    if not isinstance(record, dict):
        raise SampleError(fallback_id, data_file, f"expected an object, got {type(record).__name__}")
    misc = record.get("misc") or {}
    sample_id = str(misc.get("sample_id") or fallback_id)
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise SampleError(sample_id, data_file, "missing key 'messages' (a list)")
    turns = []  # (role, texts, audio clips) per message
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            raise SampleError(sample_id, data_file, "a message without a 'role'")
        turns.append((message["role"], *_split_content(message, sample_id, data_file)))
    audio_turns = [turn for turn, (_, _, audio) in enumerate(turns) for _ in audio]
    if len(audio_turns) != 2:
        raise SampleError(sample_id, data_file, f"expected 2 audio items (reference, then target), found {len(audio_turns)}")
    ref_turn, target_turn = audio_turns
    if turns[target_turn][0] != "assistant":
        raise SampleError(sample_id, data_file, f"the target audio (the last audio item) must be in an assistant message, "
                                                f"found it in a {turns[target_turn][0]!r} message")
    start_index = record.get("start_index")
    if start_index is not None and (isinstance(start_index, bool) or not isinstance(start_index, int) or start_index < 0):
        raise SampleError(sample_id, data_file, f"start_index must be null or an integer >= 0, got {start_index!r}")
    if (start_index or 0) > target_turn:
        raise SampleError(sample_id, data_file, f"start_index {start_index} is past the target audio's turn ({target_turn}): "
                                                "nothing would be trained")
    if ref_turn == target_turn:
        raise SampleError(sample_id, data_file, "the reference and target audio are in the same message")
    two_turn_reference = turns[ref_turn][0] == "assistant"  # 5-turn layout; else the 3-message one
    user_texts = [text for role, texts, _ in turns if role == "user" for text in texts]
    if two_turn_reference:
        ref_fallback = _last_user_text(turns[:ref_turn])
        target_fallback = _last_user_text(turns[ref_turn:target_turn]) or " ".join(turns[target_turn][1])
    else:
        ref_fallback = turns[ref_turn][1][0] if turns[ref_turn][1] else ""
        target_fallback = " ".join(turns[target_turn][1]) or (_after_instruction(user_texts[-1]) if len(user_texts) >= 2 else "")
    system = next((texts[0] for role, texts, _ in turns if role == "system" and texts), DEFAULT_SYSTEM_PROMPT)
    return VoiceCloningSample(
        sample_id=sample_id,
        speaker=str(record.get("speaker") or misc.get("speaker") or "unknown"),
        language=str(misc.get("language") or record.get("language") or "unknown"),
        system_prompt=system,
        ref_text=str(misc.get("ref_transcript") or ref_fallback).strip(),
        ref_audio=turns[ref_turn][2][0],
        target_text=str(misc.get("target_transcript") or target_fallback).strip(),
        target_audio=turns[target_turn][2][-1],
        label_reference_turn=two_turn_reference and (start_index or 0) <= ref_turn,
    )


def _last_user_text(turns: list[tuple[str, list[str], list]]) -> str:
    return next((" ".join(texts) for role, texts, _ in reversed(turns) if role == "user" and texts), "")


INSTRUCTION_END = re.compile(r":\s|：")
"""The end of the 3-message layout's instruction ("... in reference audio's voice: <target>"):
the first colon followed by a space (or a full-width colon), so a colon inside the target
text ("Note: at 10:30 we leave.") stays in it."""


def _after_instruction(instruction: str) -> str:
    found = INSTRUCTION_END.search(instruction)
    return instruction[found.end():] if found else instruction


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
