"""The cheap data-set checks (trainer/data/set_checks.py) on samples with planted faults, each
found and named, and a healthy set that raises nothing.
Run: ./run-tests tests/trainer/test_set_checks.py"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile

from stratlog.trainer.data import set_checks
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample

TEXTS = ("The river was calm that morning.", "Bring the lantern up the hill.", "Nobody saw the ship leave today.",
         "A quiet wind moved over the field.", "She kept the letters in a box.", "We walked home after dark again.")


def clip(folder: Path, name: str, seconds: float) -> Path:
    path = folder / f"{name}.wav"
    soundfile.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
    return path


def healthy(folder: Path) -> list[VoiceCloningSample]:
    """Six samples spoken at ~13 characters a second, each with its own clips and transcripts."""
    samples = []
    for i, text in enumerate(TEXTS):
        reference_text = TEXTS[(i + 1) % len(TEXTS)]
        samples.append(VoiceCloningSample(
            sample_id=f"s{i}", speaker="spk", language="en", system_prompt="", ref_text=reference_text,
            ref_audio=AudioClip(clip(folder, f"ref{i}", 2.0)), target_text=text,
            target_audio=AudioClip(clip(folder, f"tgt{i}", len(text) / 13.0))))
    return samples


def test_a_healthy_set_raises_nothing(tmp_path):
    samples = healthy(tmp_path)
    assert set_checks.set_warnings(samples) == [] and set_checks.transcript_rates(samples) is None


def test_a_target_shared_by_two_samples_is_named(tmp_path):
    samples = healthy(tmp_path)
    samples[4] = replace(samples[4], target_audio=samples[1].target_audio)
    warnings = set_checks.set_warnings(samples)
    assert len(warnings) == 1 and "target of several samples: s1, s4" in warnings[0]


def test_a_reference_transcript_equal_to_its_target_is_named_through_markup_and_case(tmp_path):
    samples = healthy(tmp_path)
    samples[2] = replace(samples[2], ref_text="<SE>[Laughter]</SE> nobody saw the SHIP leave today")
    warnings = set_checks.set_warnings(samples)
    assert len(warnings) == 1 and "same reference and target transcript" in warnings[0]
    assert warnings[0].endswith(": s2")


def test_a_transcript_of_another_length_than_its_clip_is_named(tmp_path):
    samples = healthy(tmp_path)
    samples[3] = replace(samples[3], target_audio=AudioClip(clip(tmp_path, "cut", 0.5)))  # a clip cut short
    samples[5] = replace(samples[5], target_text="We.")  # a transcript of part of the clip
    warning = set_checks.transcript_rates(samples)
    assert warning is not None and warning.endswith(": s3, s5")
