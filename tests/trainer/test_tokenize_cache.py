"""`stratlog tokenize` and the audio-code cache: a second run encodes nothing; changing one
file's content re-encodes only that file; a different tokenizer gets its own entries; the cache
root follows $STRATLOG_CACHE.

Run: `python -m pytest -q tests/trainer/test_tokenize_cache.py` (about 10 s).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile

from stratlog.cli import main as stratlog_main
from stratlog.trainer.data.audio_codes import AudioCodeCache, default_audio_codes_dir, default_cache_dir, tokenizer_identity
from stratlog.trainer.data.tokenize_data import tokenize_data
from stratlog.trainer.data.validation import ClipLimits
from tests.trainer.data_files import audio_items, demo_records, write_data_file


def test_second_run_encodes_nothing_and_a_changed_file_only_itself(demo_assets, tmp_path, capsys):
    records = demo_records(demo_assets, 3)
    data_file = write_data_file(demo_assets, tmp_path / "data", records)
    cache = tmp_path / "codes"
    command = ["tokenize", str(data_file), "--audio_tokenizer_path", str(demo_assets.audio_tokenizer_dir), "--cache", str(cache)]

    assert stratlog_main(command) == 0
    assert "audio codes: 6 encoded, 0 reused from the cache" in capsys.readouterr().out
    assert stratlog_main(command) == 0
    assert "audio codes: 0 encoded, 6 reused from the cache" in capsys.readouterr().out

    changed = tmp_path / "data" / audio_items(records[1])[1]["audio_url"]
    audio, rate = soundfile.read(changed, dtype="float32")
    soundfile.write(changed, np.ascontiguousarray(audio[::-1]), rate)  # same length, new content
    assert stratlog_main(command) == 0
    assert "audio codes: 1 encoded, 5 reused from the cache" in capsys.readouterr().out


def test_a_new_tokenizer_gets_new_entries(demo_assets, tmp_path):
    from transformers import HiggsAudioV2TokenizerModel

    data_file = write_data_file(demo_assets, tmp_path / "data", demo_records(demo_assets, 1))
    other_tokenizer = tmp_path / "other_tokenizer"
    shutil.copytree(demo_assets.audio_tokenizer_dir, other_tokenizer)
    config = other_tokenizer / "config.json"
    config.write_text(config.read_text().replace("{", '{"stratlog_test_marker": 1,', 1))
    assert tokenizer_identity(other_tokenizer) != tokenizer_identity(demo_assets.audio_tokenizer_dir)
    limits = ClipLimits(max_audio_seconds=30, min_audio_seconds=0.1)
    for folder in (demo_assets.audio_tokenizer_dir, other_tokenizer):
        codes = AudioCodeCache(HiggsAudioV2TokenizerModel.from_pretrained(folder), folder, tmp_path / "codes")
        report = tokenize_data(data_file, codes, limits, show_progress=False)
        assert (report.encoded, report.reused) == (2, 0)


def test_a_later_start_hashes_only_new_or_changed_files(demo_assets, tmp_path, monkeypatch):
    """Content hashes are remembered by path, size and mtime: a second start reads no clip to
    hash, a changed clip is hashed again, and a torn index line (a killed run) is skipped."""
    import stratlog.trainer.data.audio_codes as audio_codes

    records = demo_records(demo_assets, 2)
    data_dir = tmp_path / "data"
    data_file = write_data_file(demo_assets, data_dir, records)
    hashed: list[str] = []
    real_digest = audio_codes.file_digest
    monkeypatch.setattr(audio_codes, "file_digest",
                        lambda path: hashed.append(Path(path).name) or real_digest(path))
    command = ["tokenize", str(data_file), "--audio_tokenizer_path", str(demo_assets.audio_tokenizer_dir),
               "--cache", str(tmp_path / "codes")]
    clip_names = {Path(item["audio_url"]).name for record in records for item in audio_items(record)}

    assert stratlog_main(command) == 0
    assert clip_names <= set(hashed)
    hashed.clear()
    assert stratlog_main(command) == 0
    assert not clip_names & set(hashed)  # only the tokenizer's own files were hashed again

    changed = data_dir / audio_items(records[0])[0]["audio_url"]
    audio, rate = soundfile.read(changed, dtype="float32")
    soundfile.write(changed, np.ascontiguousarray(audio[::-1]), rate)
    with open(tmp_path / "codes" / "file-digests.jsonl", "a") as index:
        index.write('{"path": "/torn')  # no newline: what a killed writer leaves
    hashed.clear()
    assert stratlog_main(command) == 0
    assert clip_names & set(hashed) == {changed.name}
    hashed.clear()
    assert stratlog_main(command) == 0
    assert not clip_names & set(hashed)  # the changed clip's new hash was remembered past the torn line


def test_the_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STRATLOG_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    assert default_audio_codes_dir() == tmp_path / "audio-codes"
    monkeypatch.delenv("STRATLOG_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "stratlog"
