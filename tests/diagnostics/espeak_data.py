"""A second healthy data set, made differently from the demo's: real speech from espeak-ng.

The demo's clips come from its own source-filter synthesiser (trainer/embedded/synthetic_voices.py);
these come from espeak-ng's formant voices, at espeak's own 22.05 kHz (so every clip is resampled
on loading), with speakers told apart by espeak voice variant, pitch and rate, and sentences from
the demo's word lists in English, Spanish and (one in twelve) Mandarin. Same ChatML shape as the
demo's train.json. Built into a test's temporary folder, never committed; needs the espeak-ng
program (`apt-get install espeak-ng`; .ci/run installs it where apt-get exists).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from stratlog.trainer.embedded.demo_dataset import DATA_SEED, SENTENCE_BUILDERS, _chatml_record

SAMPLES_PER_SPEAKER = 30
ESPEAK_LANGUAGES = {"en": "en-us", "es": "es", "zh": "cmn"}


@dataclass(frozen=True)
class EspeakSpeaker:
    speaker: str
    variant: str
    """An espeak-ng voice variant (a different formant set and voicing), e.g. "m3", "f2"."""
    pitch: int
    """espeak-ng -p (0-99)."""
    words_per_minute: int


SPEAKERS = [
    EspeakSpeaker("esp0", "m1", 35, 165), EspeakSpeaker("esp1", "m3", 50, 175), EspeakSpeaker("esp2", "m7", 25, 155),
    EspeakSpeaker("esp3", "f2", 60, 170), EspeakSpeaker("esp4", "f4", 75, 180), EspeakSpeaker("esp5", "f1", 55, 160),
    EspeakSpeaker("esp6", "klatt2", 45, 170), EspeakSpeaker("esp7", "croak", 40, 165),
]


def espeak_program() -> str | None:
    return shutil.which("espeak-ng")


def _synthesise(args: tuple[str, EspeakSpeaker, str, Path]) -> None:
    text, speaker, language, path = args
    voice = f"{ESPEAK_LANGUAGES[language]}+{speaker.variant}"
    subprocess.run([espeak_program(), "-v", voice, "-p", str(speaker.pitch), "-s", str(speaker.words_per_minute),
                    "-w", str(path), text], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class EspeakSample:
    """What the demo's ChatML writer reads of a planned sample (trainer/embedded/demo_dataset.py)."""

    sample_id: str
    voice: EspeakSpeaker
    language: str
    ref_text: str
    target_text: str


def _clip(sample: EspeakSample, role: str) -> str:
    return f"clips/{sample.sample_id}_{role}.wav"


def build_espeak_dataset(data_dir: Path) -> Path:
    """Writes data_dir/clips/*.wav and data_dir/train.json (240 samples: 8 speakers x 30); returns the latter."""
    (data_dir / "clips").mkdir(parents=True, exist_ok=True)
    samples, jobs = [], []
    for speaker_index, speaker in enumerate(SPEAKERS):
        for index in range(SAMPLES_PER_SPEAKER):
            rng = np.random.default_rng([DATA_SEED, 5000 + speaker_index, index])
            language = "zh" if index % 12 == 11 else ("en" if (index + speaker_index) % 2 == 0 else "es")
            ref_text = SENTENCE_BUILDERS[language](rng)
            target_text = ref_text
            while target_text == ref_text:
                target_text = SENTENCE_BUILDERS[language](rng)
            sample = EspeakSample(f"{speaker.speaker}_{index:04d}", speaker, language, ref_text, target_text)
            jobs += [(ref_text, speaker, language, data_dir / _clip(sample, "ref")),
                     (target_text, speaker, language, data_dir / _clip(sample, "tgt"))]
            samples.append(sample)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(_synthesise, jobs))
    records = [_chatml_record(sample, _clip(sample, "ref"), _clip(sample, "tgt"),
                              round(soundfile.info(data_dir / _clip(sample, "tgt")).duration, 3)) for sample in samples]
    train_file = data_dir / "train.json"
    train_file.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return train_file
