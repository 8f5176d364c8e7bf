"""`--audio-tokenizer DIR --report-to tensorboard`: each capture's decoded WAV files as audio
summaries and, with stratlog[voice], its SIM scores as scalars, at the capture's step, read back
with TensorBoard's own reader (issue 21, clips and SIM from issue 20)."""

from __future__ import annotations

import io
import json
import re
import wave
from pathlib import Path

import pytest

from tests.sink.report.audio_captures import CAPTURES, export_captures

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

CLIP = re.compile(r"step(\d+)-rank(\d+)-sample(\d+)-(\w+)\.wav")


@pytest.fixture(scope="module")
def exported(demo_assets, tmp_path_factory) -> tuple[Path, EventAccumulator]:
    log_dir = tmp_path_factory.mktemp("tb-audio")
    export_captures(demo_assets.audio_tokenizer_dir, log_dir, ["tensorboard"])
    [run] = list((log_dir / "tensorboard").iterdir())
    accumulator = EventAccumulator(str(run), size_guidance={"scalars": 0, "audio": 0})
    accumulator.Reload()
    return log_dir, accumulator


def test_every_decoded_clip_is_an_audio_summary_at_its_step(exported):
    log_dir, accumulator = exported
    expected: dict[str, list[tuple[int, bytes]]] = {}
    for path in sorted((log_dir / "audio").glob("*.wav")):
        step, rank, sample, role = CLIP.fullmatch(path.name).groups()
        expected.setdefault(f"audio/sample{sample}_{role}/rank{rank}", []).append((int(step), path.read_bytes()))
    assert sum(len(clips) for clips in expected.values()) == 3 * len(CAPTURES)  # reference, target, predicted each
    assert set(accumulator.Tags()["audio"]) == set(expected)
    for tag, clips in expected.items():
        written = accumulator.Audio(tag)
        assert [(event.step, event.encoded_audio_string) for event in written] == clips, tag
        with wave.open(io.BytesIO(written[0].encoded_audio_string)) as clip:
            assert (written[0].sample_rate, written[0].length_frames) == (clip.getframerate(), clip.getnframes())


def test_with_the_voice_extra_each_captures_sim_is_a_scalar_at_its_step(exported):
    pytest.importorskip("resemblyzer", reason="the optional extra is missing (no SIM scores): pip install 'stratlog[voice]'")
    log_dir, accumulator = exported
    rows = [json.loads(line) for line in (log_dir / "audio" / "sim.jsonl").read_text().splitlines()]
    assert sorted((row["step"], row["rank"]) for row in rows) == sorted(CAPTURES)
    for name in ("reference_predicted", "reference_target"):
        for rank in (0, 1):
            written = accumulator.Scalars(f"sim/{name}/rank{rank}")
            assert sorted((event.step, round(event.value, 4)) for event in written) == \
                sorted((row["step"], row[f"sim_{name}"]) for row in rows if row["rank"] == rank), name
