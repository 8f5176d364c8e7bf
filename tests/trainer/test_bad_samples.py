"""Bad samples: each kind is reported with the sample id and the file; without
--skip_bad_samples training stops before step 1 listing them, with it they are counted and
skipped. Also: offset/duration slices, markup and CJK transcripts going through unchanged.

Run: `python -m pytest -q tests/trainer/test_bad_samples.py` (about 20 s; two in-process runs of
train_v2_ddp.main with --max_steps 1).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import soxr
from transformers import AutoTokenizer

from tests.trainer.data_files import audio_items, demo_records, train_args, write_data_file
from stratlog.trainer import train_v2_ddp
from stratlog.trainer.data.audio_codes import inspect_clip
from stratlog.trainer.data.samples import load_samples
from stratlog.trainer.data.validation import ClipLimits, validate_samples

LIMITS = ClipLimits(max_audio_seconds=2.5, min_audio_seconds=0.5)  # demo clips last 1.0-2.2 s


def break_samples(demo_assets, folder):
    """Eight demo records: the first two good (one with a 16 kHz reference clip), each of the others broken in one way. Returns
    (data file, {sample id: (expected file fragment, expected reason fragment)})."""
    records = demo_records(demo_assets, 8)
    data_file = write_data_file(demo_assets, folder, records)
    clips = folder / "clips"
    expected = {}

    def ref_item(r): return audio_items(r)[0]
    def target_item(r): return audio_items(r)[1]

    ids = [r["misc"]["sample_id"] for r in records]
    audio, rate = soundfile.read(folder / ref_item(records[0])["audio_url"], dtype="float32")
    soundfile.write(clips / "good_16k.wav", soxr.resample(audio, rate, 16000), 16000)  # a good clip at another rate
    ref_item(records[0])["audio_url"] = "clips/good_16k.wav"
    ref_item(records[2])["audio_url"] = "clips/missing.wav"
    expected[ids[2]] = ("missing.wav", "audio file not found")
    (clips / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    target_item(records[3])["audio_url"] = "clips/corrupt.wav"
    expected[ids[3]] = ("corrupt.wav", "unreadable or corrupt audio")
    records[4]["misc"]["target_transcript"] = ""
    records[4]["messages"][2]["content"][0]["text"] = "  "
    records[4]["messages"][1]["content"][2]["text"] = "Please generate speech:"
    expected[ids[4]] = (target_item(records[4])["audio_url"], "empty target transcript")
    del records[5]["messages"]
    expected[ids[5]] = ("train.json", "missing key 'messages'")
    soundfile.write(clips / "long.wav", np.zeros(int(3.0 * 16000), dtype=np.float32), 16000)
    ref_item(records[6])["audio_url"] = "clips/long.wav"
    expected[ids[6]] = ("long.wav", "reference audio too long: 3.00 s")
    soundfile.write(clips / "short.wav", np.zeros(int(0.2 * 48000), dtype=np.float32), 48000)
    target_item(records[7])["audio_url"] = "clips/short.wav"
    expected[ids[7]] = ("short.wav", "target audio too short: 0.20 s")
    data_file.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return data_file, expected


def test_each_bad_kind_names_sample_and_file(demo_assets, tmp_path):
    data_file, expected = break_samples(demo_assets, tmp_path)
    report = validate_samples(load_samples(data_file), LIMITS, target_rate=24000)
    assert len(report.valid) == 2
    assert {error.sample_id for error in report.rejected} == set(expected)
    for error in report.rejected:
        file_fragment, reason = expected[error.sample_id]
        assert file_fragment in error.file and reason in error.reason, str(error)
        assert error.sample_id in str(error) and file_fragment in str(error)


def test_training_stops_listing_bad_samples_or_skips_and_counts_them(demo_assets, tmp_path, capsys):
    data_file, expected = break_samples(demo_assets, tmp_path / "data")
    limits = ["--max_audio_seconds", "2.5", "--min_audio_seconds", "0.5", "--max_steps", "1", "--save_strategy", "no"]
    assert train_v2_ddp.main(train_args(demo_assets, data_file, tmp_path / "stopped", *limits)) == 2
    stopped = capsys.readouterr().err
    assert f"{len(expected)} bad sample(s)" in stopped and "--skip_bad_samples" in stopped
    for sample_id, (file_fragment, reason) in expected.items():
        assert any(sample_id in line and file_fragment in line and reason in line for line in stopped.splitlines()), sample_id
    assert not (tmp_path / "stopped" / "checkpoint-1").exists()

    assert train_v2_ddp.main(train_args(demo_assets, data_file, tmp_path / "skipped", *limits, "--skip_bad_samples")) == 0
    skipped = capsys.readouterr()
    assert f"skipped {len(expected)} bad sample(s)" in skipped.err
    assert "info: resampling clips to 24000 Hz with soxr (1 at 16000 Hz" in skipped.err  # information, not an error
    assert "train_runtime" in skipped.out


def test_offset_and_duration_select_a_slice_with_its_own_cache_entry(demo_assets, tmp_path):
    from stratlog.trainer.data.audio_codes import AudioCodeCache
    from transformers import HiggsAudioV2TokenizerModel

    record = demo_records(demo_assets, 1)[0]
    ref = audio_items(record)[0]
    ref["offset"], ref["duration"] = 0.2, 0.6
    data_file = write_data_file(demo_assets, tmp_path, [record])
    clip = load_samples(data_file).samples[0].ref_audio
    info = inspect_clip(clip)
    assert info.start == round(0.2 * info.source_rate) and abs(info.seconds - 0.6) < 1e-3
    codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(demo_assets.audio_tokenizer_dir),
                           demo_assets.audio_tokenizer_dir, tmp_path / "codes")
    whole = type(clip)(clip.path)
    assert codes.entry_for(clip) != codes.entry_for(whole)
    assert codes.codes_for(clip).shape[1] == 15  # 0.6 s at 25 frames/s
    assert codes.codes_for(whole).shape[1] > 15


@pytest.mark.parametrize("transcript", ["<SE>[Laughter]</SE> Bring the lantern up the hill.", "请把灯笼拿上山。", "Ça va, 東京?"])
def test_markup_and_cjk_transcripts_go_through_unchanged(demo_assets, tmp_path, transcript):
    record = demo_records(demo_assets, 1)[0]
    record["misc"]["target_transcript"] = transcript
    sample = load_samples(write_data_file(demo_assets, tmp_path, [record])).samples[0]
    assert sample.target_text == transcript
    tokenizer = AutoTokenizer.from_pretrained(demo_assets.model_dir)
    assert tokenizer.decode(tokenizer(transcript, add_special_tokens=False)["input_ids"]) == transcript


def test_run_start_error_and_run_end_reach_the_sink_when_the_data_is_bad(demo_assets, tmp_path, capsys):
    """The sink hears of the run before its data can fail, then why it stopped, then its end."""
    from stratlog.protocol import ErrorEvent, RecordingReader, RunEnd, RunStart, decode

    data_file, expected = break_samples(demo_assets, tmp_path / "data")
    spool = tmp_path / "spool"
    argv = train_args(demo_assets, data_file, tmp_path / "out", "--max_audio_seconds", "2.5", "--min_audio_seconds", "0.5",
                      "--enable_strategic_logging", "--strategic_sink_address", f"ipc://{tmp_path}/nobody.sock",
                      "--strategic_spool_dir", str(spool))
    assert train_v2_ddp.main(argv) == 2
    assert capsys.readouterr().err.count(f"{len(expected)} bad sample(s)") == 1
    received = [decode(record.frame) for file in spool.glob("*.stratrec") for record in RecordingReader(file)]
    assert [type(message) for message in received] == [RunStart, ErrorEvent, RunEnd]
    error = received[1]
    assert (error.where, error.error_type, error.step) == ("data_loading", "BadSamplesError", 0)
    assert all(sample_id in error.message for sample_id in expected)
    assert received[2].status == "failed"
