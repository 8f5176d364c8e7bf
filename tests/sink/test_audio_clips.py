"""--audio-tokenizer: an output snapshot's codes become WAV files beside the logs, decoded by the
run's own audio tokenizer (the demo's tiny one, real weights from the demo build) in the sink's
child process, and strategic_log.txt names them.
Run: ./run-tests tests/sink/test_audio_clips.py"""

from __future__ import annotations

import json
import math
import wave

import numpy as np
import pytest

from stratlog.protocol import Array
from stratlog.clip_decoding import audio_clips
from stratlog.sink.pipeline import SinkPipeline
from tests.sink.builders import input_snapshot, output_snapshot, run_start, zero_shot_snapshot

FRAMES = {"reference": 31, "target": 24, "predicted": 24}


def codes(frames: int, seed: int) -> Array:
    return Array.from_numpy(np.random.default_rng(seed).integers(0, 1024, (8, frames)).astype(np.int32))


def test_a_captures_codes_are_decoded_to_wav_files_a_standard_reader_opens(demo_assets, tmp_path):
    config = json.loads((demo_assets.audio_tokenizer_dir / "config.json").read_text())
    hop = math.prod(config["acoustic_model_config"]["downsampling_ratios"])  # samples per codec frame
    pipeline = SinkPipeline(tmp_path, audio_clips=audio_clips(demo_assets.audio_tokenizer_dir, tmp_path))
    pipeline.handle_message(run_start(), 1.0)
    snapshot = output_snapshot(step=10, rank=1, reference_codes=codes(FRAMES["reference"], 1),
                               target_codes=codes(FRAMES["target"], 2), predicted_codes=codes(FRAMES["predicted"], 3))
    pipeline.handle_message(snapshot, 2.0)
    pipeline.close()
    for role, frames in FRAMES.items():
        with wave.open(str(tmp_path / "audio" / f"step0000010-rank1-sample0-{role}.wav")) as clip:
            assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate()) == (1, 2, config["sample_rate"])
            assert clip.getnframes() == frames * hop
    log = (tmp_path / "strategic_log.txt").read_text()
    assert ("Audio Files: audio/step0000010-rank1-sample0-reference.wav, audio/step0000010-rank1-sample0-target.wav, "
            "audio/step0000010-rank1-sample0-predicted.wav") in log
    assert "audio_clips_error" not in (tmp_path / "events.jsonl").read_text()


def test_a_snapshot_without_codes_writes_no_audio(demo_assets, tmp_path):
    """An older sender's output snapshot ([0] code tables): no files, no log line, no error."""
    pipeline = SinkPipeline(tmp_path, audio_clips=audio_clips(demo_assets.audio_tokenizer_dir, tmp_path))
    pipeline.handle_message(run_start(), 1.0)
    pipeline.handle_message(output_snapshot(), 2.0)
    pipeline.close()
    assert list((tmp_path / "audio").iterdir()) == []
    assert "Audio Files" not in (tmp_path / "strategic_log.txt").read_text()


def test_with_the_voice_extra_each_capture_gets_its_sim_scores(demo_assets, tmp_path):
    """SIM(reference, decoded prediction) and SIM(reference, decoded target), GE2E cosines in [0, 1];
    a prediction identical to the reference's codes scores as the reference itself. The scores come
    back to the sink's loop (never waited for): the zero-shot analysis's sim_trend finding (PENDING
    on a first capture) and a point of the dashboard's SIM trend."""
    from stratlog.sink.dashboard_model import DashboardModel

    pytest.importorskip("resemblyzer", reason="the optional extra is missing: pip install 'stratlog[voice]'")
    pipeline = SinkPipeline(tmp_path, audio_clips=audio_clips(demo_assets.audio_tokenizer_dir, tmp_path))
    model = DashboardModel.attach(pipeline)
    pipeline.handle_message(run_start(), 1.0)
    reference = codes(FRAMES["reference"], 1)
    pipeline.handle_message(input_snapshot(step=10), 2.0)  # names the speaker of sample 0: spk00
    pipeline.handle_message(output_snapshot(step=10, reference_codes=reference, target_codes=codes(24, 2),
                                            predicted_codes=reference), 2.0)
    pipeline.handle_message(zero_shot_snapshot(step=10), 2.0)
    pipeline.close()
    [line] = (tmp_path / "audio" / "sim.jsonl").read_text().splitlines()
    scores = json.loads(line)
    assert (scores["step"], scores["rank"], scores["sample"], scores["speaker"]) == (10, 0, 0, "spk00")
    assert scores["sim_reference_predicted"] == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= scores["sim_reference_target"] <= 1.0
    log = (tmp_path / "strategic_log.txt").read_text()
    [row] = [line for line in log.splitlines() if line.startswith("spk00 ")]
    assert "1.000 -> 1.000 (10 -> 10)" in row and "+0.300 nats (n=1)" in row  # beside spk00's conditioning effect
    [finding] = [json.loads(line) for line in (tmp_path / "findings.jsonl").read_text().splitlines()
                 if json.loads(line)["check"] == "sim_trend"]
    assert (finding["analysis"], finding["severity"], finding["step"]) == ("zero_shot", "PENDING", 10)
    assert finding["value"]["sim"] == pytest.approx(1.0, abs=1e-3) and "conditioning effect 0.300" in finding["reason"]
    [(step, (predicted, ceiling))] = model.view(now=3.0).trends["sim"]
    assert (step, predicted, ceiling) == (10, scores["sim_reference_predicted"], scores["sim_reference_target"])


def test_the_dashboard_lists_a_captures_files_on_the_zero_shot_tab(demo_assets, tmp_path):
    """With --audio-tokenizer the model's capture lists the WAV files and the zero-shot table shows
    them; without it, neither does."""
    from rich.console import Console

    from stratlog.sink.dashboard_model import DashboardModel
    from stratlog.tui.widgets.zero_shot.zero_shot_table import ZeroShotTable

    for audio in (True, False):
        folder = tmp_path / str(audio)
        pipeline = SinkPipeline(folder, audio_clips=audio_clips(demo_assets.audio_tokenizer_dir, folder) if audio else None)
        model = DashboardModel.attach(pipeline)
        pipeline.handle_message(run_start(), 1.0)
        pipeline.handle_message(output_snapshot(step=10, target_codes=codes(24, 2), predicted_codes=codes(24, 3)), 2.0)
        pipeline.handle_message(zero_shot_snapshot(step=10), 2.0)
        capture = model.view(0, 10, now=3.0).capture
        pipeline.close()
        expected = ["audio/step0000010-rank0-sample0-target.wav", "audio/step0000010-rank0-sample0-predicted.wav"]
        assert capture.audio_files == (expected if audio else [])
        console = Console(width=300, record=True)
        console.print(ZeroShotTable().render_snapshot(capture, capture.snapshots["zero_shot"],
                                                       capture.readings["zero_shot"]))
        assert (", ".join(expected) in console.export_text()) == audio
