"""Audio codes for every clip, encoded once with the checkpoint's audio tokenizer and cached.

Encoding is the slow part of data preparation, and the codes only change when the audio or the
tokenizer changes; so the cache key is the file's content hash, the slice of it that is used
(for `offset` / `duration` items) and the tokenizer's identity (a hash of its config and
weights). Content hashes are remembered by file path, size and modification time
(`FileDigests`), so a start does not read every clip again on every rank. Audio is read with soundfile, mixed to mono and resampled with soxr to the
tokenizer's rate, so 16/22.05/44.1/48 kHz data goes through.

The cache folder defaults to `$STRATLOG_CACHE/audio-codes` (else `~/.cache/stratlog/audio-codes`)
for both `stratlog tokenize` and training, so codes encoded up front are the ones training reads.
The project's cache root (`default_cache_dir`) is defined here, in the product, because this is
the product's cache; the demo builder (trainer/embedded/prepare.py) puts its build beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

from stratlog.trainer.data.samples import AudioClip, SampleError


CACHE_ENVIRONMENT_VARIABLE = "STRATLOG_CACHE"


def default_cache_dir() -> Path:
    """The project's one cache root: $STRATLOG_CACHE if set, else ~/.cache/stratlog."""
    configured = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "stratlog"


def default_audio_codes_dir() -> Path:
    """The one default both `stratlog tokenize` and training use: <stratlog cache>/audio-codes."""
    return default_cache_dir() / "audio-codes"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: the part of a cache key that changes when the file does."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tokenizer_identity(audio_tokenizer_dir: Path, digest_of: Callable[[Path], str] = file_digest) -> str:
    """A short hash of the tokenizer folder's config and weights: a new tokenizer, new codes.
    `digest_of` gives each file's content hash (a `FileDigests.digest` skips re-reading them)."""
    digest = hashlib.sha256()
    for path in sorted(Path(audio_tokenizer_dir).iterdir()):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin"}:
            digest.update(path.name.encode())
            digest.update(digest_of(path).encode())
    return digest.hexdigest()[:16]


class FileDigests:
    """Content hashes of audio files, kept across runs in a JSON-lines index beside the cache.

    Keying cache entries on content is what makes them safe, but hashing reads every clip at
    every start on every rank. A file whose resolved path, size and modification time (ns) are
    what the index recorded keeps its recorded hash, the rule rsync and make use: a file
    rewritten in place with the same size and modification time is missed (touch it). Each new
    hash is appended as one line (one write, so ranks appending at once do not interleave);
    unreadable lines, e.g. the tail of a killed run, are skipped."""

    def __init__(self, index: Path):
        self.index = index
        self._known: dict[tuple[str, int, int], str] = {}
        text = index.read_text(encoding="utf-8", errors="replace") if index.is_file() else ""
        self._torn_tail = bool(text) and not text.endswith("\n")
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                self._known[(entry["path"], entry["size"], entry["mtime_ns"])] = entry["sha256"]
            except (ValueError, KeyError, TypeError):
                continue

    def digest(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._known:
            self._known[key] = file_digest(path)
            line = json.dumps({"path": key[0], "size": key[1], "mtime_ns": key[2], "sha256": self._known[key]})
            try:
                with open(self.index, "a", encoding="utf-8") as handle:
                    handle.write(("\n" if self._torn_tail else "") + line + "\n")  # never glued to a torn line
                self._torn_tail = False
            except OSError:
                pass  # a read-only cache still works; the hash is only not remembered
        return self._known[key]


@dataclass(frozen=True)
class ClipInfo:
    """Where a clip lies in its file, in the file's own samples, read from the header only."""

    source_rate: int
    start: int
    stop: int
    file_frames: int

    @property
    def seconds(self) -> float:
        return (self.stop - self.start) / self.source_rate

    @property
    def is_whole_file(self) -> bool:
        return self.start == 0 and self.stop == self.file_frames


def inspect_clip(clip: AudioClip, *, sample_id: str = "?") -> ClipInfo:
    """Header check without decoding: raises SampleError (naming sample and file) for a missing
    or unreadable file or a slice outside it."""
    if not clip.path.is_file():
        raise SampleError(sample_id, clip.path, "audio file not found")
    try:
        info = soundfile.info(str(clip.path))
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise SampleError(sample_id, clip.path, f"unreadable or corrupt audio: {error}") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise SampleError(sample_id, clip.path, "audio file holds no samples")
    start = round((clip.offset or 0.0) * info.samplerate)
    stop = info.frames if clip.duration is None else min(info.frames, start + round(clip.duration * info.samplerate))
    if start >= info.frames:
        raise SampleError(sample_id, clip.path, f"offset {clip.offset:g} s is past the end of the file ({info.frames / info.samplerate:.2f} s)")
    return ClipInfo(source_rate=info.samplerate, start=start, stop=stop, file_frames=info.frames)


def load_audio(clip: AudioClip, sample_rate: int, *, sample_id: str = "?") -> np.ndarray:
    """Mono float32 audio of the clip at `sample_rate`; unreadable files raise SampleError."""
    info = inspect_clip(clip, sample_id=sample_id)
    try:
        audio, _ = soundfile.read(str(clip.path), start=info.start, stop=info.stop, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise SampleError(sample_id, clip.path, f"unreadable or corrupt audio: {error}") from None
    audio = audio.mean(axis=1)
    if audio.size == 0:
        raise SampleError(sample_id, clip.path, "audio clip holds no samples")
    if info.source_rate != sample_rate:
        audio = soxr.resample(audio, info.source_rate, sample_rate, quality="HQ").astype(np.float32)
    return audio


class AudioCodeCache:
    """Encodes clips to [num_codebooks, frames] int16 codes, reusing codes cached on disk.
    `encoded_count` / `reused_count` say how much work the cache saved. `device`: where the audio
    tokenizer runs (a GPU encodes many times faster; codes come back to the CPU)."""

    def __init__(self, audio_tokenizer, audio_tokenizer_dir: Path, cache_dir: Path, *, device: str = "cpu"):
        self.device = torch.device(device)
        self.audio_tokenizer = audio_tokenizer.to(self.device).eval()
        self.sample_rate = int(audio_tokenizer.config.sample_rate)
        self.frame_rate = float(audio_tokenizer.config.frame_rate)
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        self.digests = FileDigests(Path(cache_dir) / "file-digests.jsonl")
        self.folder = Path(cache_dir) / tokenizer_identity(Path(audio_tokenizer_dir), self.digests.digest)
        self.folder.mkdir(exist_ok=True)
        self.encoded_count = 0
        self.reused_count = 0

    def entry_for(self, clip: AudioClip, *, sample_id: str = "?") -> Path:
        """The cache file of a clip: content hash, plus the slice when it is not the whole file."""
        info = inspect_clip(clip, sample_id=sample_id)
        digest = self.digests.digest(clip.path)
        name = digest if info.is_whole_file else f"{digest}-{info.start}-{info.stop}"
        return self.folder / f"{name}.npy"

    def codes_for(self, clip: AudioClip, *, sample_id: str = "?") -> np.ndarray:
        entry = self.entry_for(clip, sample_id=sample_id)
        if entry.is_file():
            self.reused_count += 1
            return np.load(entry)
        codes = self._encode(load_audio(clip, self.sample_rate, sample_id=sample_id))
        temporary = self.folder / f".{entry.name}.tmp.npy"
        np.save(temporary, codes)
        temporary.replace(entry)  # atomic: a concurrent reader never sees half a file
        return codes

    @torch.no_grad()
    def _encode(self, audio: np.ndarray) -> np.ndarray:
        self.encoded_count += 1
        waveform = torch.from_numpy(audio)[None, None, :].to(self.device)
        codes = self.audio_tokenizer.encode(waveform, return_dict=False)
        return codes[0].to(torch.int16).cpu().numpy()
