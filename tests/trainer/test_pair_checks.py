"""The pair check end to end on real speech: espeak-ng voices written to WAV, each clip embedded by
the real GE2E encoder (stratlog[voice]), the scores carried in input snapshots and judged by the
sink's input analysis. The demo's synthetic voices are not used: GE2E does not separate them (see
PAIR_SIMILARITY_OTHER_SPEAKER in protocol/pair_similarity.py).
Run: ./run-tests tests/trainer/test_pair_checks.py"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import msgspec
import numpy as np
import pytest

from stratlog.sink.analysis.input import InputAnalysis
from stratlog.protocol.pair_similarity import PAIR_SIMILARITY_OTHER_SPEAKER, PAIR_SIMILARITY_SAME_RECORDING
from stratlog.trainer.data import pair_checks
from stratlog.trainer.data.prepare_shards import PreparationConfig, prepare_data_set
from stratlog.trainer.data.prepared import PreparedDataSet
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample
from stratlog.trainer.data.speaker_embedding import voice_extra_installed
from stratlog.trainer.data.validation import ClipLimits
from tests.sink import builders
from tests.sink.builders import healthy_ids, input_snapshot, segments_of
from tests.trainer.data_files import audio_items, demo_records, write_data_file

pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"),
    pytest.mark.skipif(not voice_extra_installed(), reason="the optional extra is missing: pip install 'stratlog[voice]'"),
]

VOICES = ("en+m7", "en+f2", "es")
"""Three espeak-ng voices GE2E tells apart (different-voice cosines 0.67-0.79, same voice 0.95+)."""
SENTENCES = ("The river was calm that morning.", "Bring the lantern up the hill.", "Nobody saw the ship leave.",
             "A quiet wind moved over the field.", "She kept the letters in a box.", "We walked home after dark.")
SAMPLES_PER_VOICE = 3
SWAPPED = {"pair00", "pair03", "pair06"}
"""A third of the samples: each gets the reference of the next voice's first sample."""


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, list[Path]]:
    folder = tmp_path_factory.mktemp("espeak")
    written = {}
    for voice in VOICES:
        written[voice] = []
        for index, sentence in enumerate(SENTENCES):
            path = folder / f"{voice}_{index}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), sentence], check=True)
            written[voice].append(path)
    return written


def sample(number: int, reference: Path, target: Path) -> VoiceCloningSample:
    return VoiceCloningSample(sample_id=f"pair{number:02d}", speaker="", language="en", system_prompt="",
                              ref_text="", ref_audio=AudioClip(reference), target_text="", target_audio=AudioClip(target))


def healthy_samples(clips) -> list[VoiceCloningSample]:
    """Sample k of a voice: reference sentence 2k, target sentence 2k + 1."""
    return [sample(v * SAMPLES_PER_VOICE + k, clips[voice][2 * k], clips[voice][2 * k + 1])
            for v, voice in enumerate(VOICES) for k in range(SAMPLES_PER_VOICE)]


def scored_snapshot(samples: list[VoiceCloningSample]):
    """One input snapshot of the whole set as its batch, each reference segment carrying the score
    preparation stores (pair_checks.pair_similarity). The codes differ per clip: the codec is not
    under test here, only the embeddings and the same-file rule."""
    scores = [pair_checks.pair_similarity(s, np.full((8, 4), 2 * i), np.full((8, 4), 2 * i + 1), embed=True)
              for i, s in enumerate(samples)]
    ids = healthy_ids()
    segments = [msgspec.structs.replace(segment, pair_similarity=scores[i] if segment.role == "reference" else -1.0)
                for i in range(len(samples)) for segment in segments_of(ids, sample=i)]
    names = [s.sample_id for s in samples]
    return input_snapshot(segments=segments, sample_ids=names, speakers=[""] * len(names), languages=["en"] * len(names))


def pair_finding(samples):
    findings = InputAnalysis().evaluate(scored_snapshot(samples), builders.context())
    return {f.check: f for f in findings}["reference_pairs"]


def named(reason: str, samples) -> set[str]:
    return {s.sample_id for s in samples if f"{s.sample_id} (" in reason}


def test_the_healthy_set_raises_nothing(clips):
    finding = pair_finding(healthy_samples(clips))
    assert finding.severity == "OK", finding.reason


def test_swapped_references_for_a_third_of_the_samples_fail_naming_exactly_those(clips):
    samples = healthy_samples(clips)
    for v, voice in enumerate(VOICES):
        donor = VOICES[(v + 1) % len(VOICES)]
        swapped = samples[v * SAMPLES_PER_VOICE]
        samples[v * SAMPLES_PER_VOICE] = sample(v * SAMPLES_PER_VOICE, clips[donor][0], swapped.target_audio.path)
    finding = pair_finding(samples)
    assert finding.severity == "FAIL"
    assert "another speaker" in finding.reason and "own recording" not in finding.reason
    assert named(finding.reason, samples) == SWAPPED


def test_references_copied_from_their_targets_fail_as_a_leak(clips, tmp_path):
    samples = []
    for s in healthy_samples(clips):
        copy = tmp_path / f"{s.sample_id}_ref.wav"
        shutil.copyfile(s.target_audio.path, copy)  # another file, the same recording
        samples.append(sample(int(s.sample_id[4:]), copy, s.target_audio.path))
    finding = pair_finding(samples)
    assert finding.severity == "FAIL"
    assert "own recording" in finding.reason and "another speaker" not in finding.reason
    assert named(finding.reason, samples) == {s.sample_id for s in samples}


def test_the_same_file_or_the_same_codes_score_one_without_the_extra_or_the_check(clips):
    target = clips["es"][1]
    assert pair_checks.pair_similarity(sample(0, target, target), np.zeros((8, 4)), np.ones((8, 4))) == 1.0
    other = sample(1, clips["es"][0], target)
    assert pair_checks.pair_similarity(other, np.ones((8, 4)), np.ones((8, 4))) == 1.0
    assert pair_checks.pair_similarity(other, np.zeros((8, 4)), np.ones((8, 4))) == pair_checks.NOT_MEASURED


def test_preparation_stores_each_pairs_score_with_its_example(clips, demo_assets, tmp_path):
    """The path `stratlog tokenize` and a run's own preparation take (prepare_data_set, shards):
    demo records with espeak-ng clips in place of theirs, sample 1's reference of the other voice."""
    records = demo_records(demo_assets, 4)
    folder = tmp_path / "data"
    for index, record in enumerate(records):
        voice = VOICES[index // 2]
        reference = clips[VOICES[1 - index // 2]][0] if index == 1 else clips[voice][2 * (index % 2)]
        for item, source in zip(audio_items(record), (reference, clips[voice][2 * (index % 2) + 1])):
            (folder / item["audio_url"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, folder / item["audio_url"])
    data_file = write_data_file(demo_assets, folder, records)
    config = PreparationConfig(demo_assets.audio_tokenizer_dir, demo_assets.model_dir, tmp_path / "codes",
                               ClipLimits(max_audio_seconds=30, min_audio_seconds=0.1), shard_size=2, pair_check=True)
    prepared = PreparedDataSet(prepare_data_set(data_file, config, show_progress=False).folder)
    scores = [example.pair_similarity for example in prepared]
    assert scores[1] < PAIR_SIMILARITY_OTHER_SPEAKER
    assert all(PAIR_SIMILARITY_OTHER_SPEAKER <= score < PAIR_SIMILARITY_SAME_RECORDING for i, score in enumerate(scores) if i != 1)
    # the whole set's flagged pairs, named in the notes every start prints
    [warning] = [note for note in prepared.notes() if "another speaker" in note]
    assert warning.endswith(f": {records[1]['misc']['sample_id']}")
