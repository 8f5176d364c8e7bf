"""The prepared data set: the same examples as building them in memory; an interrupted
preparation resumes without redoing finished shards; a changed clip rebuilds only its shard and
encodes only itself; a waiting rank opens what the preparing rank wrote; ranks draw disjoint
samples per epoch with both batch orders (random, and grouped by length).

Run: `python -m pytest -q tests/trainer/test_prepared_data.py` (about 30 s).
"""

from __future__ import annotations

import pickle
import shutil
import threading

import numpy as np
import pytest
import soundfile
import torch
from accelerate.data_loader import prepare_data_loader
from torch.utils.data import DataLoader, RandomSampler

from stratlog.cli import main as stratlog_main
from stratlog.trainer.data.audio_codes import AudioCodeCache, FileDigests
from stratlog.trainer.data.batching import LengthGroupedBatchSampler
from stratlog.trainer.data.prepare_shards import PreparationConfig, builder_for, open_prepared, prepare_data_set, prepared_folder
from stratlog.trainer.data.prepared import PreparedDataSet
from stratlog.trainer.data.preparation import prepare_examples
from stratlog.trainer.data.samples import load_samples
from stratlog.trainer.data.validation import ClipLimits
from tests.trainer.data_files import audio_items, demo_records, write_data_file

SAMPLES, SHARD_SIZE = 6, 2


@pytest.fixture
def data(demo_assets, tmp_path):
    records = demo_records(demo_assets, SAMPLES)
    data_file = write_data_file(demo_assets, tmp_path / "data", records)
    # the demo's code cache (the clips' codes are in it already); the data file's own prepared set
    config = PreparationConfig(demo_assets.audio_tokenizer_dir, demo_assets.model_dir, demo_assets.root / "audio-codes-cache",
                               ClipLimits(max_audio_seconds=30, min_audio_seconds=0.1), shard_size=SHARD_SIZE)
    yield records, data_file, config
    digests = FileDigests(config.codes_dir / "file-digests.jsonl")
    shutil.rmtree(prepared_folder(data_file, config, builder_for(config), digests), ignore_errors=True)  # not left in the demo cache


def built_in_memory(data_file, config) -> list:
    """The examples as `prepare_examples` builds them in memory, the way training did before."""
    from transformers import HiggsAudioV2TokenizerModel

    codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(config.audio_tokenizer_dir), config.audio_tokenizer_dir,
                           config.codes_dir)
    return prepare_examples(load_samples(data_file), codes, builder_for(config), limits=config.limits,
                            skip_bad_samples=False, show_progress=False).examples


def test_prepared_examples_are_the_examples_built_in_memory(data):
    _, data_file, config = data
    report = prepare_data_set(data_file, config, show_progress=False)
    prepared = PreparedDataSet(report.folder)
    built = built_in_memory(data_file, config)
    assert len(prepared) == len(built) == SAMPLES
    assert report.shards_built == SAMPLES // SHARD_SIZE
    for expected, example in zip(built, prepared):
        for name in ("input_ids", "labels", "audio_input_ids", "audio_labels"):
            assert getattr(example, name).dtype == np.int64
            assert np.array_equal(getattr(example, name), getattr(expected, name)), name
        assert (example.sample_id, example.speaker, example.language) == (expected.sample_id, expected.speaker, expected.language)
    assert prepared.lengths == [len(example.input_ids) for example in built]
    copy = pickle.loads(pickle.dumps(prepared.subset(np.array([4, 1]))))  # what a DataLoader worker receives
    assert [example.sample_id for example in copy] == [built[4].sample_id, built[1].sample_id]


def test_an_interrupted_preparation_resumes_without_redoing_finished_shards(data, monkeypatch):
    _, data_file, config = data
    real_codes_for, looked_up = AudioCodeCache.codes_for, []

    def codes_then_stop(self, clip, *, sample_id="?"):
        looked_up.append(clip)
        if len(looked_up) > 2 * SHARD_SIZE + 1:  # the first shard done, the second begun
            raise KeyboardInterrupt
        return real_codes_for(self, clip, sample_id=sample_id)

    monkeypatch.setattr(AudioCodeCache, "codes_for", codes_then_stop)
    with pytest.raises(KeyboardInterrupt):
        prepare_data_set(data_file, config, show_progress=False)
    monkeypatch.setattr(AudioCodeCache, "codes_for", real_codes_for)
    report = prepare_data_set(data_file, config, show_progress=False)
    assert (report.shards_reused, report.shards_built) == (1, SAMPLES // SHARD_SIZE - 1)
    assert report.clips_encoded + report.clips_reused == 2 * (SAMPLES - SHARD_SIZE)  # the first shard's clips not again
    assert [example.sample_id for example in PreparedDataSet(report.folder)] == \
        [sample.sample_id for sample in load_samples(data_file).samples]


def test_a_changed_clip_rebuilds_only_its_shard_and_encodes_only_itself(demo_assets, data, capsys):
    records, data_file, config = data
    command = ["tokenize", str(data_file), "--audio_tokenizer_path", str(config.audio_tokenizer_dir), "--model_path",
               str(config.model_dir), "--cache", str(config.codes_dir), "--shard_size", str(SHARD_SIZE)]
    assert stratlog_main(command) == 0
    assert f"shards: {SAMPLES // SHARD_SIZE} built, 0 reused" in capsys.readouterr().out

    changed = data_file.parent / audio_items(records[3])[1]["audio_url"]  # sample 3: the second shard
    audio, rate = soundfile.read(changed, dtype="float32")
    noise = np.random.default_rng().normal(0, 1e-3, audio.shape)  # content no earlier run cached (unseeded)
    soundfile.write(changed, (audio + noise).astype(np.float32), rate)
    assert stratlog_main(command) == 0
    assert (f"shards: 1 built, {SAMPLES // SHARD_SIZE - 1} reused; audio codes: 1 encoded, {2 * SHARD_SIZE - 1} reused"
            in capsys.readouterr().out)
    assert stratlog_main(command) == 0
    assert f"shards: 0 built, {SAMPLES // SHARD_SIZE} reused; audio codes: 0 encoded" in capsys.readouterr().out


def test_a_waiting_rank_opens_the_set_the_preparing_rank_writes(data):
    _, data_file, config = data
    builder = builder_for(config)
    opened: list[PreparedDataSet] = []
    waiter = threading.Thread(target=lambda: opened.append(
        open_prepared(data_file, config, builder, preparer=False, poll_seconds=0.05)))
    waiter.start()
    waiter.join(timeout=1.0)
    assert waiter.is_alive()  # nothing prepared yet: it waits (no timeout of its own)
    prepared = open_prepared(data_file, config, builder, preparer=True)
    waiter.join(timeout=30)
    assert not waiter.is_alive() and len(opened[0]) == len(prepared) == SAMPLES


@pytest.mark.parametrize("grouped", [False, True], ids=["random", "group_by_length"])
def test_ranks_draw_disjoint_samples_each_epoch_in_a_seeded_order(grouped):
    """The two orders Trainer uses (RandomSampler, which accelerate seeds per epoch, and ours for
    group_by_length), sharded by accelerate as in training: each epoch the ranks' samples are
    disjoint and cover the set, and the same epoch gives the same order again (a resumed run)."""
    lengths = [int(n) for n in np.random.default_rng(0).integers(50, 500, size=40)]
    dataset = list(range(len(lengths)))

    def epoch_indices(rank: int, epoch: int) -> list[int]:
        sampler = LengthGroupedBatchSampler(4, lengths, seed=42) if grouped else RandomSampler(dataset)
        loader = prepare_data_loader(DataLoader(dataset, batch_size=4, sampler=sampler), num_processes=2, process_index=rank,
                                     put_on_device=False, use_seedable_sampler=True, data_seed=42)
        loader.set_epoch(epoch)
        return [int(i) for batch in loader for i in batch]

    for epoch in range(2):
        per_rank = [epoch_indices(rank, epoch) for rank in range(2)]
        assert not set(per_rank[0]) & set(per_rank[1])
        assert sorted(per_rank[0] + per_rank[1]) == dataset
        assert epoch_indices(0, epoch) == per_rank[0]
    assert epoch_indices(0, 0) != epoch_indices(0, 1)
    if grouped:
        batches = [epoch_indices(rank, 0) for rank in range(2)]
        padded = sum(max(lengths[i] for i in b[s:s + 4]) * 4 for b in batches for s in range(0, len(b), 4))
        random_order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
        padded_random = sum(max(lengths[i] for i in random_order[s:s + 4]) * 4 for s in range(0, len(lengths), 4))
        assert padded < padded_random


@pytest.mark.parametrize("fault", ["shifted_labels", "masked_audio_eos", "missing_reference_turn", "silent_reference"])
def test_a_patched_example_builder_gets_a_prepared_set_of_its_own(data, fault, monkeypatch):
    """tests/diagnostics plants data bugs in the demo's cache folder: their examples must never be
    read by a run without the fault (or the other way round)."""
    from stratlog.trainer import faults

    _, data_file, config = data
    builder, digests = builder_for(config), FileDigests(config.codes_dir / "file-digests.jsonl")
    plain = prepared_folder(data_file, config, builder, digests)
    faults.install(fault, patch=monkeypatch.setattr)
    assert prepared_folder(data_file, config, builder, digests) != plain


@pytest.mark.slow
def test_worker_processes_prepare_the_same_set(data, capsys):
    """`--workers 2`: two spawned processes, each with its own audio tokenizer, build the shards."""
    _, data_file, config = data
    command = ["tokenize", str(data_file), "--audio_tokenizer_path", str(config.audio_tokenizer_dir), "--model_path",
               str(config.model_dir), "--cache", str(config.codes_dir), "--shard_size", str(SHARD_SIZE), "--workers", "2"]
    assert stratlog_main(command) == 0
    assert f"{SAMPLES} examples, 0 bad sample(s); shards: {SAMPLES // SHARD_SIZE} built" in capsys.readouterr().out
    built = built_in_memory(data_file, config)
    prepared = PreparedDataSet(prepared_folder(data_file, config, builder_for(config),
                                               FileDigests(config.codes_dir / "file-digests.jsonl")))
    assert [example.sample_id for example in prepared] == [example.sample_id for example in built]
    assert all(np.array_equal(a.audio_input_ids, b.audio_input_ids) for a, b in zip(prepared, built))
