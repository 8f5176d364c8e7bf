"""Data at scale (issue 19): a 2-rank training start against 10^4, 10^5 and 10^6 samples.

Run: python bench/bench_data_scale.py [--write] [--sizes 10000 100000 1000000] [--workdir DIR]
(needs the demo build, `stratlog prepare-demo`; about 10 min on 2 cores, most of it writing the
synthetic sets: ~4 KiB per example on disk, deleted after each size)

Training side, no audio: a synthetic JSONL manifest of N samples (clips named but absent) and its
prepared data set, written where training looks for it, through the product's own writer
(`prepared.write_shard`, `prepare_shards.plan_shards` / `write_set_manifest`). Its examples are
97 examples built by the real `SequenceBuilder` from random codes (clips of 1-4 s at 25 frames/s,
the demo's 8 codebooks), repeated with every sample's own id: building each of 10^6 for the
bench would take an hour and measure the builder, not the start. Then the real
`trainer/train_v2_ddp.py` under torchrun, 2 CPU ranks, the demo checkpoint, one step. Time to
first step: from starting torchrun to the first logged loss on its output. Peak RSS: the largest
VmHWM (the kernel's peak resident set) of each rank process, sampled every 0.1 s.

Before (examples built up front on every rank, as until issue 19): the per-sample time and bytes
of `SequenceBuilder.build` measured here on 500 of the same samples, times N; an estimate, not a
run (a 10^6-sample run that way takes the better part of an hour per size, and ~20 GiB per rank).

Also: `stratlog tokenize --model_path` on the first demo samples (fresh code cache: encode and
build; warm cache: build only), and what length-grouped batching saves in padding on the demo
set and on a skewed synthetic one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import torch

from benchmarks_md import argument_parser, measured_on, publish
from stratlog.trainer.torchaudio_standin import install_if_missing

install_if_missing()
from stratlog.trainer.data.batching import LengthGroupedBatchSampler  # noqa: E402
from stratlog.trainer.data.prepare_shards import (PreparationConfig, builder_for, builder_sample_rate, plan_shards, prepare_data_set,  # noqa: E402
                                                  prepared_folder, write_set_manifest)
from stratlog.trainer.data.prepared import PreparedDataSet, ShardContent, write_shard  # noqa: E402
from stratlog.trainer.data.audio_codes import FileDigests  # noqa: E402
from stratlog.trainer.data.samples import load_samples  # noqa: E402
from stratlog.trainer.data.validation import ClipLimits  # noqa: E402
from stratlog.trainer.embedded import prepare_demo  # noqa: E402
from stratlog.training_process import torchrun_command  # noqa: E402

TEMPLATES = 97
RUNS = 2
"""Training starts per size (the machine is shared: both are shown)."""
BATCH = 4
LIMITS = ClipLimits(max_audio_seconds=30.0, min_audio_seconds=0.1)
WORDS = "the quick brown fox jumps over a lazy dog while seven voices read long transcripts aloud".split()


def write_manifest(path: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            ref, target = (" ".join(rng.choice(WORDS, size=rng.integers(4, 16))) for _ in range(2))
            handle.write(json.dumps({"sample_id": f"s{i:07d}", "speaker": f"spk{i % 500}", "language": "en",
                                     "ref_audio": f"clips/r{i}.wav", "ref_text": ref,
                                     "target_audio": f"clips/t{i}.wav", "target_text": target}) + "\n")


def templates(samples, builder, num_codebooks: int, codec_size: int) -> list:
    rng = np.random.default_rng(1)

    def codes():
        return rng.integers(0, codec_size, size=(num_codebooks, int(rng.uniform(1, 4) * 25))).astype(np.int16)

    return [builder.build(sample, codes(), codes()) for sample in samples[:TEMPLATES]]


def write_synthetic_set(data_file: Path, config: PreparationConfig, builder) -> tuple[Path, float, float]:
    """(folder, seconds to write, bytes on disk). Every example is a template with the sample's id."""
    started = time.perf_counter()
    samples = load_samples(data_file).samples
    model_config = json.loads((config.model_dir / "config.json").read_text())
    examples = templates(samples, builder, model_config["num_codebooks"], model_config["codebook_size"] - 2)
    digests = FileDigests(config.codes_dir / "file-digests.jsonl")
    folder = prepared_folder(data_file, config, builder, digests)
    plans = plan_shards(samples, config.shard_size)
    for plan in plans:
        write_shard(folder / plan.name, ShardContent(plan.fingerprint, examples=[
            (source, replace(examples[source % TEMPLATES], sample_id=sample.sample_id, speaker=sample.speaker))
            for source, sample in plan.samples]))
    write_set_manifest(folder, data_file, digests, [], plans, builder_sample_rate(config))
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    return folder, time.perf_counter() - started, size


def peak_rss_of_ranks(process: psutil.Process, peaks: dict[int, int], done: threading.Event) -> None:
    while not done.is_set():
        try:
            children = process.children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            try:
                if "train_v2_ddp" not in " ".join(child.cmdline()):
                    continue
                status = Path(f"/proc/{child.pid}/status").read_text()
                peaks[child.pid] = max(peaks.get(child.pid, 0), int(re.search(r"VmHWM:\s+(\d+)", status)[1]) * 1024)
            except (psutil.Error, OSError, TypeError):
                continue
        time.sleep(0.1)


def first_step(assets, data_file: Path, codes_dir: Path, out: Path) -> tuple[float, list[int]]:
    """(seconds from starting torchrun to the first logged loss, each rank's peak RSS in bytes)."""
    args = ["--model_path", str(assets.model_dir), "--audio_tokenizer_path", str(assets.audio_tokenizer_dir),
            "--train_data_file", str(data_file), "--output_dir", str(out), "--audio_codes_cache", str(codes_dir),
            "--per_device_train_batch_size", str(BATCH), "--max_steps", "1", "--logging_steps", "1", "--save_strategy", "no",
            "--report_to", "none", "--dataloader_num_workers", "0", "--disable_tqdm", "true", "--use_cpu", "true"]
    started = time.perf_counter()
    process = subprocess.Popen(torchrun_command(2, args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    peaks: dict[int, int] = {}
    done = threading.Event()
    sampler = threading.Thread(target=peak_rss_of_ranks, args=(psutil.Process(process.pid), peaks, done), daemon=True)
    sampler.start()
    seconds, lines = None, []
    for line in process.stdout:
        lines.append(line)
        if seconds is None and "'loss'" in line:
            seconds = time.perf_counter() - started
    process.wait()
    done.set()
    sampler.join()
    if process.returncode != 0 or seconds is None:
        raise RuntimeError("training run failed:\n" + "".join(lines[-40:]))
    return seconds, sorted(peaks.values())


def in_place(folder: Path, data_file: Path, codes_dir: Path, assets) -> Path:
    """The set moved to the folder training will look in now: the key covers the preparation
    code, which others may commit while the bench runs (a fresh process computes it)."""
    script = f"""
from pathlib import Path
from stratlog.trainer.torchaudio_standin import install_if_missing
install_if_missing()
from stratlog.trainer.data.audio_codes import FileDigests
from stratlog.trainer.data.prepare_shards import PreparationConfig, builder_for, prepared_folder
from stratlog.trainer.data.validation import ClipLimits
config = PreparationConfig(Path({str(assets.audio_tokenizer_dir)!r}), Path({str(assets.model_dir)!r}), Path({str(codes_dir)!r}),
                           ClipLimits(max_audio_seconds={LIMITS.max_audio_seconds!r}, min_audio_seconds={LIMITS.min_audio_seconds!r}))
print(prepared_folder(Path({str(data_file)!r}), config, builder_for(config), FileDigests(config.codes_dir / "file-digests.jsonl")))
"""
    current = Path(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip())
    if current != folder:
        folder.rename(current)
    return current


def open_and_read(folder: Path) -> tuple[float, float]:
    """(ms to open the set, us per example read at random), in a fresh process as a rank would."""
    script = f"""
import json, time, numpy as np
from stratlog.trainer.data.prepared import PreparedDataSet
started = time.perf_counter()
data_set = PreparedDataSet({str(folder)!r})
opened = time.perf_counter()
for pick in np.random.default_rng(0).integers(0, len(data_set), size=1000):
    data_set[int(pick)]
print(json.dumps([(opened - started) * 1e3, (time.perf_counter() - opened) * 1e3]))
"""
    open_ms, read_ms = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    return open_ms, read_ms  # 1000 reads: the total in ms is the mean in us


def built_up_front(data_file: Path, builder, model_dir: Path) -> tuple[float, float]:
    """(seconds, bytes) per example of building examples in memory, the way every rank did."""
    samples = load_samples(data_file).samples[:500]
    model_config = json.loads((model_dir / "config.json").read_text())
    rng = np.random.default_rng(1)
    codes = [(rng.integers(0, 1024, size=(model_config["num_codebooks"], int(rng.uniform(1, 4) * 25))),
              rng.integers(0, 1024, size=(model_config["num_codebooks"], int(rng.uniform(1, 4) * 25)))) for _ in samples]
    started = time.perf_counter()
    built = [builder.build(sample, *pair) for sample, pair in zip(samples, codes)]
    seconds = (time.perf_counter() - started) / len(built)
    size = sum(e.input_ids.nbytes + e.labels.nbytes + e.audio_input_ids.nbytes + e.audio_labels.nbytes for e in built) / len(built)
    return seconds, size


def padding(lengths: list[int], order: list[int]) -> float:
    """Padded positions per real token when batches of BATCH are taken in `order`."""
    padded = sum(max(lengths[i] for i in order[s:s + BATCH]) * len(order[s:s + BATCH]) for s in range(0, len(order), BATCH))
    return padded / sum(lengths) - 1


def bucketing_rows(demo_lengths: list[int]) -> list[str]:
    rng = np.random.default_rng(3)
    skewed = np.clip(rng.lognormal(mean=np.log(300), sigma=0.9, size=20_000), 60, 4096).astype(int).tolist()
    rows = []
    for name, lengths in (("demo (240 samples)", demo_lengths), ("skewed synthetic (20 000, log-normal, median 300 tokens)", skewed)):
        random_order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(42)).tolist()
        grouped = list(LengthGroupedBatchSampler(BATCH, lengths, seed=42))
        before, after = padding(lengths, random_order), padding(lengths, grouped)
        rows.append(f"| {name} | {before:.1%} | {after:.1%} | {(before - after) / (1 + before):.1%} |")
    return rows


def tokenize_rows(assets, work: Path, count: int) -> list[str]:
    data_file = work / "tokenize" / "train.json"
    data_file.parent.mkdir(parents=True)
    records = json.loads(assets.train_data_file.read_text())[:count]
    data_file.write_text(json.dumps(records))
    os.symlink(assets.train_data_file.parent / "clips", data_file.parent / "clips")
    rows = []
    for label in ("fresh code cache (encode + build)", "warm code cache (build only)"):
        shutil.rmtree(work / "tokenize-codes" / "prepared", ignore_errors=True)
        config = PreparationConfig(assets.audio_tokenizer_dir, assets.model_dir, work / "tokenize-codes", LIMITS)
        started = time.perf_counter()
        report = prepare_data_set(data_file, config, show_progress=False, device="cpu")
        seconds = time.perf_counter() - started
        rows.append(f"| {label} | {count} | {report.clips_encoded} | {seconds:.1f} s | {2 * count / seconds:.1f} clips/s |")
    return rows


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--tokenize-samples", type=int, default=24, help="Demo samples `stratlog tokenize` prepares.")
    parser.add_argument("--workdir", type=Path, default=None, help="Scratch folder (default: a temporary one, removed).")
    args = parser.parse_args()
    assets = prepare_demo()
    work = Path(tempfile.mkdtemp(prefix="bench-data-", dir=args.workdir))
    try:
        codes_dir = work / "codes"
        config = PreparationConfig(assets.audio_tokenizer_dir, assets.model_dir, codes_dir, LIMITS)
        builder = builder_for(replace(config, label_all_text=False))
        rows = []
        for count in args.sizes:
            data_file = work / f"manifest-{count}.jsonl"
            write_manifest(data_file, count)
            folder, write_s, size = write_synthetic_set(data_file, config, builder)
            open_ms, read_us = open_and_read(folder)
            runs = []
            for _ in range(RUNS):
                folder = in_place(folder, data_file, codes_dir, assets)
                runs.append(first_step(assets, data_file, codes_dir, work / "out"))
            print(f"N={count}: {runs}", file=sys.stderr)
            seconds = " / ".join(f"{run_seconds:.1f}" for run_seconds, _ in runs)
            peak = max(max(peaks) for _, peaks in runs)
            build_s, build_bytes = built_up_front(data_file, builder, assets.model_dir)
            rows.append(f"| {count:,} | {seconds} s | {peak / 2**30:.2f} GiB | {open_ms:.1f} ms / {read_us:.0f} us "
                        f"| {size / 2**30:.2f} GiB ({write_s:.0f} s to write) "
                        f"| {count * build_s / 60:.1f} min, {count * build_bytes / 2**30:.1f} GiB |")
            shutil.rmtree(folder)
            data_file.unlink()
        demo_config = replace(config, codes_dir=assets.root / "audio-codes-cache")
        demo = PreparedDataSet(prepare_data_set(assets.train_data_file, demo_config, builder=builder, show_progress=False).folder)
        body = "\n".join([
            measured_on("python bench/bench_data_scale.py", "torch", "transformers", "numpy"),
            "",
            "Goal (issue 19): under 30 s to the first step and under 2 GiB RSS per rank at 10^6 samples, both flat in N. "
            "2 CPU ranks (torchrun, gloo), demo checkpoint, batch 4, one step; synthetic prepared sets (no audio).",
            "",
            "| samples | time to first step (2 runs) | peak RSS, largest rank | open set / read one example (random) | prepared set on disk "
            "| before: built up front on each rank (estimate) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Before = N x the {build_s * 1e3:.2f} ms and {build_bytes / 1024:.1f} KiB per example measured for "
            "`SequenceBuilder.build` here (500 samples of 1-4 s clips), the up-front build every rank did; with the audio "
            "decoded and hashed it was 2.9-3.4 ms (issue 19).",
            "",
            "`stratlog tokenize --model_path` (1 process, CPU, demo audio tokenizer):",
            "",
            "| code cache | samples | clips encoded | time | throughput |",
            "|---|---|---|---|---|",
            *tokenize_rows(assets, work, args.tokenize_samples),
            "",
            f"Length-grouped batching (`--train_sampling_strategy group_by_length`), batch {BATCH}: padded positions per real "
            "token, random order against grouped, and the share of the padded batch volume saved:",
            "",
            "| data | random | grouped | volume saved |",
            "|---|---|---|---|",
            *bucketing_rows(demo.lengths),
        ])
        publish("Data scale", body, write=args.write)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
