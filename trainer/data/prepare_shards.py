"""A data file prepared in shards into a `PreparedDataSet`, resumable and spread over processes.

The samples are cut into shards of consecutive samples. Each shard goes through the per-sample
steps of `build_shard` (header validation, audio codes from the cache, the training sequence)
and is written atomically (`prepared.write_shard`); a per-clip step added later (an embedding per
clip, say) is one more line there. A shard's fingerprint covers its samples and the size and
modification time of each of its clips, so a later run (an interrupted one, or one after a clip
changed) keeps every finished shard whose fingerprint still holds and rebuilds only the others,
and codes come from the code cache: a changed clip is the only one encoded again.

The set's folder is keyed by everything its examples depend on besides the data: the data file's
path, the audio tokenizer, the text tokenizer and model ids, the label rule and clip limits, and
the preparation code itself (its source, and which functions build the sequence: a patched
builder, as the planted faults of tests/diagnostics are, gets a set of its own). The manifest
records the data file's content hash; a set whose data file changed is prepared again.
"""

from __future__ import annotations

import fcntl
import hashlib
import multiprocessing
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from stratlog.trainer.arguments import DEFAULT_SHARD_SIZE
from stratlog.trainer.data import audio_codes, pair_checks, preparation, prepared, samples, sequences, set_checks, validation
from stratlog.trainer.data.audio_codes import AudioCodeCache, FileDigests, tokenizer_identity
from stratlog.trainer.data.prepared import PreparedDataSet, ShardContent, error_record
from stratlog.trainer.data.samples import SampleError, VoiceCloningSample, load_samples
from stratlog.trainer.data.sequences import SequenceBuilder
from stratlog.trainer.data.validation import ClipLimits, check_sample

TEXT_TOKENIZER_FILES = ("tokenizer", "special_tokens", "chat_template", "added_tokens", "config.json")


@dataclass(frozen=True)
class PreparationConfig:
    """What a prepared data set depends on, besides the data file."""

    audio_tokenizer_dir: Path
    model_dir: Path
    """The checkpoint folder: its text tokenizer, chat template and config (no weights are read)."""
    codes_dir: Path
    """The audio-code cache; prepared sets live in its `prepared/` folder."""
    limits: ClipLimits
    label_all_text: bool = False
    shard_size: int = DEFAULT_SHARD_SIZE
    pair_check: bool = False
    """Score each pair's speaker similarity (--pair_check, trainer/data/pair_checks.py; stratlog[voice])."""

    def __post_init__(self):
        if self.shard_size < 1:
            raise ValueError(f"PreparationConfig.shard_size must be >= 1, got {self.shard_size}")


def builder_for(config: PreparationConfig) -> SequenceBuilder:
    """The sequence builder training uses for this checkpoint (text tokenizer and config only)."""
    from transformers import AutoConfig, AutoTokenizer

    model_config = AutoConfig.from_pretrained(config.model_dir)
    return SequenceBuilder(AutoTokenizer.from_pretrained(config.model_dir), sequences.AudioTokenIds.from_config(model_config),
                           label_all_text=config.label_all_text, max_length=model_config.max_position_embeddings)


def _code_identity() -> str:
    """The preparation code's source, and the names of the functions that build an example as
    they are now (a wrapper put in their place has another name)."""
    digest = hashlib.sha256()
    for module in (audio_codes, pair_checks, preparation, prepared, samples, sequences, validation, sys.modules[__name__]):
        digest.update(Path(module.__file__).read_bytes())
    for function in (preparation.example_for, SequenceBuilder.build, sequences.conversation_for):
        digest.update(f"{function.__module__}.{function.__qualname__}".encode())
    return digest.hexdigest()


def prepared_folder(data_file: Path, config: PreparationConfig, builder: SequenceBuilder, digests: FileDigests) -> Path:
    model_files = sorted(path for path in Path(config.model_dir).iterdir()
                         if path.is_file() and path.name.startswith(TEXT_TOKENIZER_FILES))
    parts = [str(Path(data_file).resolve()), tokenizer_identity(config.audio_tokenizer_dir, digests.digest),
             *(f"{path.name}:{digests.digest(path)}" for path in model_files),
             repr(builder.ids), repr(builder.max_length), repr(builder.label_all_text),
             f"{float(config.limits.max_audio_seconds)!r} {float(config.limits.min_audio_seconds)!r}",  # 30 and 30.0 alike
             f"pair check {config.pair_check}",  # scored and unscored sets differ
             _code_identity()]  # not the shard size: a set made with any shard size is the same data
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
    return Path(config.codes_dir) / "prepared" / f"{Path(data_file).stem}-{key}"


@dataclass(frozen=True)
class ShardPlan:
    name: str
    samples: list[tuple[int, VoiceCloningSample]]
    """(source index in the data file, sample)."""
    fingerprint: str


def _clip_stamp(clip: samples.AudioClip) -> str:
    try:
        stat = clip.path.stat()
        return f"{clip.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        return f"{clip.path}:missing"


def plan_shards(sample_list: list[VoiceCloningSample], shard_size: int) -> list[ShardPlan]:
    plans = []
    for number, start in enumerate(range(0, len(sample_list), shard_size)):
        chunk = list(enumerate(sample_list[start:start + shard_size], start=start))
        digest = hashlib.sha256()
        for source, sample in chunk:
            digest.update(f"{source}|{sample!r}|{_clip_stamp(sample.ref_audio)}|{_clip_stamp(sample.target_audio)}\n".encode())
        plans.append(ShardPlan(f"shard-{number:06d}", chunk, digest.hexdigest()))
    return plans


def build_shard(plan: ShardPlan, codes: AudioCodeCache, builder: SequenceBuilder, limits: ClipLimits, *,
                pair_check: bool = False) -> ShardContent:
    """The per-sample steps: header checks, then both clips' codes and the training sequence. A
    bad sample is recorded in the shard, not raised: training decides (stop, or skip)."""
    content = ShardContent(fingerprint=plan.fingerprint)
    for source, sample in plan.samples:
        try:
            rates = check_sample(sample, limits)
            content.examples.append((source, preparation.example_for(sample, codes, builder, pair_check=pair_check)))
        except SampleError as error:
            content.rejected.append(error_record(error, source))
            continue
        content.resampled_rates.update(rate for rate in rates if rate != codes.sample_rate)
    return content


@dataclass
class ShardResult:
    clips: int
    clips_encoded: int = 0
    clips_reused: int = 0


class ShardWorker:
    """Builds shards with one audio tokenizer (on `device`) and one sequence builder."""

    def __init__(self, config: PreparationConfig, device: str, builder: SequenceBuilder | None = None):
        from transformers import HiggsAudioV2TokenizerModel

        self.config = config
        self.builder = builder or builder_for(config)
        self.codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(config.audio_tokenizer_dir),
                                    Path(config.audio_tokenizer_dir), config.codes_dir, device=device)

    def run(self, folder: Path, plan: ShardPlan) -> ShardResult:
        before = (self.codes.encoded_count, self.codes.reused_count)
        content = build_shard(plan, self.codes, self.builder, self.config.limits, pair_check=self.config.pair_check)
        prepared.write_shard(folder / plan.name, content)
        return ShardResult(2 * len(plan.samples), self.codes.encoded_count - before[0], self.codes.reused_count - before[1])


_worker: ShardWorker | None = None


def _start_worker(config: PreparationConfig, devices: list[str], counter) -> None:
    from stratlog.trainer.torchaudio_standin import install_if_missing

    install_if_missing()  # before transformers: the audio tokenizer needs a resampler
    with counter.get_lock():
        number, counter.value = counter.value, counter.value + 1
    global _worker
    _worker = ShardWorker(config, devices[number % len(devices)])


def _run_in_worker(folder: Path, plan: ShardPlan) -> ShardResult:
    return _worker.run(folder, plan)


def devices_for(device: str) -> list[str]:
    """`auto`: every GPU in turn when there are GPUs (one worker each, round robin), else the CPU."""
    import torch

    if device != "auto":
        return [device]
    if torch.cuda.is_available():
        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    return ["cpu"]


@dataclass
class PreparationReport:
    folder: Path
    shards_built: int = 0
    shards_reused: int = 0
    clips_encoded: int = 0
    clips_reused: int = 0

    def summary(self, data_set: PreparedDataSet) -> str:
        return (f"prepared data set: {len(data_set)} examples, {len(data_set.rejected)} bad sample(s); shards: "
                f"{self.shards_built} built, {self.shards_reused} reused; audio codes: {self.clips_encoded} encoded, "
                f"{self.clips_reused} reused from the cache ({self.folder})")


@contextmanager
def preparation_lock(folder: Path):
    """One preparer per folder at a time (a `stratlog tokenize` and a training run's rank 0, say)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_data_set(data_file: Path, config: PreparationConfig, *, builder: SequenceBuilder | None = None, workers: int = 1,
                     device: str = "auto", show_progress: bool = True) -> PreparationReport:
    """Prepares (or completes, or refreshes) the data file's prepared set; shards whose
    fingerprint holds are kept. With `workers` > 1 the shards are built in that many processes."""
    builder = builder or builder_for(config)
    digests = FileDigests(Path(config.codes_dir) / "file-digests.jsonl")
    folder = prepared_folder(data_file, config, builder, digests)
    report = PreparationReport(folder)
    with preparation_lock(folder):
        for leftover in folder.glob(".shard-*.tmp"):  # an interrupted run's unfinished shard
            shutil.rmtree(leftover, ignore_errors=True)
        sample_set = load_samples(data_file)
        plans = plan_shards(sample_set.samples, config.shard_size)
        pending = [plan for plan in plans
                   if (prepared.read_shard_report(folder / plan.name) or {}).get("fingerprint") != plan.fingerprint]
        report.shards_reused = len(plans) - len(pending)
        clips = sum(2 * len(plan.samples) for plan in pending)
        with tqdm(total=clips, desc="preparing", unit="clip", disable=not show_progress or not pending) as progress:
            for result in _build_pending(folder, pending, config, builder, workers, devices_for(device)):
                report.shards_built += 1
                report.clips_encoded += result.clips_encoded
                report.clips_reused += result.clips_reused
                progress.update(result.clips)
        write_set_manifest(folder, data_file, digests, sample_set.errors, plans, builder_sample_rate(config))
        for stale in set(path.name for path in folder.glob("shard-*")) - {plan.name for plan in plans}:
            shutil.rmtree(folder / stale, ignore_errors=True)
    return report


def builder_sample_rate(config: PreparationConfig) -> int:
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(config.audio_tokenizer_dir).sample_rate)


def _build_pending(folder, pending, config, builder, workers, devices):
    if not pending:
        return
    if workers <= 1 or len(pending) == 1:
        worker = ShardWorker(config, devices[0], builder)
        for plan in pending:
            yield worker.run(folder, plan)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    with ProcessPoolExecutor(min(workers, len(pending)), mp_context=context, initializer=_start_worker,
                             initargs=(config, devices, context.Value("i", 0))) as pool:
        for future in as_completed([pool.submit(_run_in_worker, folder, plan) for plan in pending]):
            yield future.result()


def write_set_manifest(folder: Path, data_file: Path, digests: FileDigests, parse_errors: list[SampleError],
                    plans: list[ShardPlan], sample_rate: int) -> None:
    shards, rejected, rates = [], [error_record(error, -1) for error in parse_errors], Counter()
    for plan in plans:
        shard = prepared.read_shard_report(folder / plan.name)
        shards.append({"name": plan.name, "count": shard["count"], "fingerprint": shard["fingerprint"]})
        rejected.extend(shard["rejected"])
        rates.update({int(rate): count for rate, count in shard["resampled_rates"].items()})
    prepared.write_manifest(folder, {
        "version": prepared.FORMAT_VERSION, "data_file": str(Path(data_file).resolve()),
        "data_digest": digests.digest(Path(data_file)), "sample_count": sum(len(plan.samples) for plan in plans),
        "sample_rate": sample_rate, "shards": shards, "rejected": rejected,
        "resampled_rates": {str(rate): count for rate, count in rates.items()},
        "warnings": set_checks.set_warnings([sample for plan in plans for _, sample in plan.samples])
        + pair_checks.pair_warnings(record for plan in plans for record in pair_checks.shard_scores(folder / plan.name)),
    })


def open_prepared(data_file: Path, config: PreparationConfig, builder: SequenceBuilder, *, preparer: bool,
                  device: str = "auto", show_progress: bool = False, poll_seconds: float = 1.0) -> PreparedDataSet:
    """The data file's prepared set for a training rank: opened as it is when its manifest matches
    the data file; otherwise the `preparer` (each node's local rank 0) prepares it while the other
    ranks poll for the manifest. Polling holds no collective, so no NCCL timeout (--ddp_timeout)
    bounds a long preparation; if the preparer dies, torchrun stops the whole group."""
    digests = FileDigests(Path(config.codes_dir) / "file-digests.jsonl")
    folder = prepared_folder(data_file, config, builder, digests)
    digest = digests.digest(Path(data_file))

    def current() -> bool:
        return (prepared.read_manifest(folder) or {}).get("data_digest") == digest

    if not current():
        if preparer:
            prepare_data_set(data_file, config, builder=builder, device=device, show_progress=show_progress)
        else:
            waited = time.monotonic()
            while not current():
                if time.monotonic() - waited > 60:
                    print(f"still waiting for local rank 0 to prepare {folder}", file=sys.stderr)
                    waited = time.monotonic()
                time.sleep(poll_seconds)
    return PreparedDataSet(folder)
