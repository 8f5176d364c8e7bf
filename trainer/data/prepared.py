"""The prepared data set on disk: built training examples in flat NumPy arrays, read lazily.

Why this format: a run with 10^6 samples must start in seconds and hold only what it trains on.
Each shard is a folder of plain `.npy` arrays that `np.load(mmap_mode="r")` maps without reading:
token ids and text labels (int32, all examples end to end), delayed audio codes and audio labels
(int16, [frames, codebooks], end to end), `index.npy` (one int64 row per example: source index in
the data file, token start/end, frame start/end, metadata start/end) and `meta.jsonl` (sample id,
speaker, language, one line each). `shard.json` is the shard's report (its fingerprint, the
samples it rejected and why, the resampled rates); it is written last, inside a temporary folder
that is then renamed into place, so a shard folder either is complete or does not exist. The
manifest (`manifest.json`) lists the shards of a complete data set and is written last of all.

An example is a slice of each array, copied to int64 only when a batch asks for it, so opening a
data set costs one `np.load` per array of each shard, whatever the number of samples, and a rank
touches only the pages of the examples it trains on. NumPy memmaps need no new dependency; see
trainer/README.md for the measurement against building examples up front.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from stratlog.trainer.data.samples import SampleError
from stratlog.trainer.data.sequences import TrainingExample
from stratlog.trainer.data.validation import resampling_note

MANIFEST = "manifest.json"
SHARD_REPORT = "shard.json"
FORMAT_VERSION = 1
INDEX_COLUMNS = ("source_index", "token_start", "token_end", "frame_start", "frame_end", "meta_start", "meta_end")
SOURCE, TOKEN_START, TOKEN_END, FRAME_START, FRAME_END, META_START, META_END = range(len(INDEX_COLUMNS))
ARRAYS = {"input_ids": np.int32, "labels": np.int32, "audio_input_ids": np.int16, "audio_labels": np.int16}


def error_record(error: SampleError, source_index: int) -> dict:
    return {"source_index": source_index, "sample_id": error.sample_id, "file": error.file, "reason": error.reason}


def error_from(record: dict) -> SampleError:
    return SampleError(record["sample_id"], record["file"], record["reason"])


@dataclass
class ShardContent:
    """One shard's examples and report, collected in memory before `write_shard` puts them on disk."""

    fingerprint: str
    examples: list[tuple[int, TrainingExample]] = field(default_factory=list)
    """(source index in the data file, example)."""
    rejected: list[dict] = field(default_factory=list)
    """`error_record`s of the shard's bad samples."""
    resampled_rates: Counter = field(default_factory=Counter)


def _narrow(values: np.ndarray, dtype, what: str) -> np.ndarray:
    info = np.iinfo(dtype)
    if values.size and (values.min() < info.min or values.max() > info.max):
        raise ValueError(f"{what} values outside {np.dtype(dtype).name} range [{info.min}, {info.max}]: "
                         f"{values.min()}..{values.max()}; this prepared data set format cannot hold them")
    return values.astype(dtype)


def write_shard(folder: Path, content: ShardContent) -> None:
    """Writes the shard into a temporary sibling folder, then renames it to `folder`: a reader
    (or a resumed `stratlog tokenize`) sees a finished shard or none."""
    temporary = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    examples = [example for _, example in content.examples]
    index = np.zeros((len(examples), len(INDEX_COLUMNS)), dtype=np.int64)
    meta = [json.dumps({"sample_id": e.sample_id, "speaker": e.speaker, "language": e.language,
                        "pair_similarity": e.pair_similarity}, ensure_ascii=False).encode() + b"\n"
            for e in examples]
    index[:, SOURCE] = [source for source, _ in content.examples]
    for start, end, sizes in ((TOKEN_START, TOKEN_END, [len(e.input_ids) for e in examples]),
                              (FRAME_START, FRAME_END, [len(e.audio_input_ids) for e in examples]),
                              (META_START, META_END, [len(line) for line in meta])):
        index[:, end] = np.cumsum(sizes, dtype=np.int64)
        index[:, start] = index[:, end] - np.asarray(sizes, dtype=np.int64)
    np.save(temporary / "index.npy", index)
    for name, dtype in ARRAYS.items():
        parts = [getattr(e, name) for e in examples]
        joined = np.concatenate(parts) if parts else np.zeros((0,), dtype=np.int64)
        np.save(temporary / f"{name}.npy", _narrow(joined, dtype, name))
    (temporary / "meta.jsonl").write_bytes(b"".join(meta))
    report = {"fingerprint": content.fingerprint, "count": len(examples), "rejected": content.rejected,
              "resampled_rates": {str(rate): count for rate, count in content.resampled_rates.items()}}
    (temporary / SHARD_REPORT).write_text(json.dumps(report), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)  # an outdated shard of the same name
    temporary.rename(folder)


def read_shard_report(folder: Path) -> dict | None:
    """The report of a finished shard, None for a missing or unfinished one."""
    try:
        return json.loads((folder / SHARD_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(folder: Path, manifest: dict) -> None:
    temporary = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    temporary.replace(folder / MANIFEST)


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("version") == FORMAT_VERSION else None


class _Shard:
    """One shard's arrays, mapped (not read) when first used."""

    def __init__(self, folder: Path):
        self.index = np.load(folder / "index.npy", mmap_mode="r")
        self.arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        self.meta = np.memmap(folder / "meta.jsonl", dtype=np.uint8, mode="r") if self.index.shape[0] else None

    def example(self, row: int) -> TrainingExample:
        entry = self.index[row]
        tokens, frames = slice(entry[TOKEN_START], entry[TOKEN_END]), slice(entry[FRAME_START], entry[FRAME_END])
        meta = json.loads(bytes(self.meta[entry[META_START]:entry[META_END]]))
        return TrainingExample(
            input_ids=self.arrays["input_ids"][tokens].astype(np.int64),
            labels=self.arrays["labels"][tokens].astype(np.int64),
            audio_input_ids=self.arrays["audio_input_ids"][frames].astype(np.int64),
            audio_labels=self.arrays["audio_labels"][frames].astype(np.int64),
            sample_id=meta["sample_id"], speaker=meta["speaker"], language=meta["language"],
            pair_similarity=meta.get("pair_similarity", -1.0),
        )


class PreparedDataSet(Dataset):
    """The examples of a prepared data set (or of a chosen subset of it, `positions`), built from
    the memmaps on access. Nothing is read at construction but the manifest; shards are mapped
    when first touched, in the process that touches them (a DataLoader worker maps its own)."""

    def __init__(self, folder: Path, positions: np.ndarray | None = None):
        self.folder = Path(folder)
        manifest = read_manifest(self.folder)
        if manifest is None:
            raise FileNotFoundError(f"no complete prepared data set in {self.folder} (run `stratlog tokenize`)")
        self.manifest = manifest
        counts = np.asarray([shard["count"] for shard in manifest["shards"]], dtype=np.int64)
        self._ends = np.cumsum(counts)
        self.positions = positions
        self._shards: dict[int, _Shard] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_shards": {}}  # a worker process maps the files itself

    def __len__(self) -> int:
        if self.positions is not None:
            return len(self.positions)
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getitem__(self, index: int) -> TrainingExample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"example {index} of {len(self)}")
        position = int(self.positions[index] if self.positions is not None else index % len(self))
        shard = int(np.searchsorted(self._ends, position, side="right"))
        return self._shard(shard).example(position - int(self._ends[shard - 1] if shard else 0))

    def _shard(self, number: int) -> _Shard:
        if number not in self._shards:
            self._shards[number] = _Shard(self.folder / self.manifest["shards"][number]["name"])
        return self._shards[number]

    def column(self, column: int) -> np.ndarray:
        """One index column over the whole set (or the subset): 8 bytes per example, read on demand."""
        values = np.concatenate([self._shard(n).index[:, column] for n in range(len(self._ends))]) if len(self._ends) \
            else np.zeros((0,), dtype=np.int64)
        return values if self.positions is None else values[self.positions]

    @property
    def lengths(self) -> list[int]:
        """Token count of each example: what length-grouped batching sorts by."""
        return (self.column(TOKEN_END) - self.column(TOKEN_START)).tolist()

    def subset(self, positions: np.ndarray) -> PreparedDataSet:
        return PreparedDataSet(self.folder, positions if self.positions is None else self.positions[positions])

    @property
    def rejected(self) -> list[dict]:
        return self.manifest["rejected"]

    def notes(self) -> list[str]:
        rates = Counter({int(rate): count for rate, count in self.manifest["resampled_rates"].items()})
        note = resampling_note(rates, self.manifest["sample_rate"])
        return ([note] if note else []) + self.manifest.get("warnings", [])  # set_checks.py
