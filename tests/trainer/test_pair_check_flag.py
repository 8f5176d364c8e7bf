"""--pair_check is a flag of `stratlog tokenize` and of the training script's data arguments (issue
20): it reaches the preparation's config, a set scored by it is prepared apart from an unscored one,
and a flag that cannot work stops before any work with one line naming it.
Run: python -m pytest tests/trainer/test_pair_check_flag.py -q"""

from __future__ import annotations

import argparse

import pytest
from transformers import HfArgumentParser

from stratlog.cli import main as stratlog_main
from stratlog.trainer.arguments import DataArguments, add_tokenize_arguments
from stratlog.trainer.data.audio_codes import FileDigests
from stratlog.trainer.data.prepare_shards import PreparationConfig, builder_for, prepared_folder
from stratlog.trainer.data.speaker_embedding import voice_extra_installed
from stratlog.trainer.data.validation import ClipLimits
from tests.trainer.data_files import demo_records, write_data_file


@pytest.mark.skipif(not voice_extra_installed(), reason="the optional extra is missing: pip install 'stratlog[voice]'")
def test_both_commands_take_the_flag(tmp_path):
    data_file = tmp_path / "data.json"
    data_file.write_text("[]")
    [data_args] = HfArgumentParser(DataArguments).parse_args_into_dataclasses(
        ["--train_data_file", str(data_file), "--pair_check"])
    assert data_args.pair_check
    parser = argparse.ArgumentParser()
    add_tokenize_arguments(parser)
    assert parser.parse_args([str(data_file), "--audio_tokenizer_path", "t", "--pair_check"]).pair_check
    assert not parser.parse_args([str(data_file), "--audio_tokenizer_path", "t"]).pair_check


def test_tokenize_without_model_path_refuses_the_pair_check(tmp_path, capsys):
    data_file = tmp_path / "data.json"
    data_file.write_text("[]")
    assert stratlog_main(["tokenize", str(data_file), "--audio_tokenizer_path", str(tmp_path), "--pair_check"]) == 2
    assert "--pair_check" in capsys.readouterr().err


def test_a_scored_set_is_prepared_apart_from_an_unscored_one(demo_assets, tmp_path):
    data_file = write_data_file(demo_assets, tmp_path / "data", demo_records(demo_assets, 2))
    config = PreparationConfig(demo_assets.audio_tokenizer_dir, demo_assets.model_dir, tmp_path / "codes",
                               ClipLimits(max_audio_seconds=30, min_audio_seconds=0.1))
    builder, digests = builder_for(config), FileDigests(tmp_path / "digests.jsonl")
    scored = PreparationConfig(**{**config.__dict__, "pair_check": True})
    assert prepared_folder(data_file, scored, builder, digests) != prepared_folder(data_file, config, builder, digests)


def test_without_the_voice_extra_the_flag_stops_the_run_before_any_work(monkeypatch, tmp_path):
    """(The extra's absence is simulated: CI installs it.)"""
    from stratlog.trainer.data import speaker_embedding

    monkeypatch.setattr(speaker_embedding, "voice_extra_installed", lambda: False)
    data_file = tmp_path / "data.json"
    data_file.write_text("[]")
    with pytest.raises(ValueError, match="--pair_check: .*stratlog\\[voice\\]"):
        DataArguments(train_data_file=str(data_file), pair_check=True)
    assert not DataArguments(train_data_file=str(data_file)).pair_check
