"""The demo's synthetic voice-cloning data set, written in the same ChatML JSON shape users bring.

240 samples: 8 speakers x 30, each a reference clip and a target clip of the same speaker saying
different sentences in the same language. Sentences are 3-8 words from small per-language word
lists: English and Spanish (accented letters included), and about 7 % Mandarin with CJK transcripts
to exercise the byte-level tokenizer. Clips are 16-bit WAV, 1.0-2.2 s. Exactly one clip in ten is
stored at 16, 22.05 or 44.1 kHz instead of 24 kHz, so the loading path's resampling is exercised.

Outputs (audio paths relative to the file that names them):
- `train.json`: JSON array of ChatML samples (system / user [ref text, ref audio, instruction +
  target text] / assistant [target text, target audio]), `speaker`, `misc`;
- `manifest.jsonl`: one flat record per sample (ref_audio, ref_text, target_audio, target_text,
  speaker, language, sample_id);
- `speakers.json`: each speaker's voice parameters.
Every random choice comes from a generator seeded by (DATA_SEED, speaker, sample): same bytes every build.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from stratlog.trainer.embedded.synthetic_voices import VOICES, Voice, synthesize

DATA_SEED = 20240917
SAMPLES_PER_SPEAKER = 30
NATIVE_SAMPLE_RATE = 24000
OTHER_SAMPLE_RATES = (16000, 22050, 44100)
SYSTEM_PROMPT = "Speak in the voice heard in the reference clip."
INSTRUCTION = "Please generate speech for given text in reference audio's voice: "
TRAIN_DATA_FILE_NAME = "train.json"
MANIFEST_FILE_NAME = "manifest.jsonl"
SPEAKERS_FILE_NAME = "speakers.json"

ENGLISH = {
    "determiner": ["the", "a", "my", "our", "every", "that", "this", "your"],
    "adjective": ["quiet", "old", "bright", "green", "small", "golden", "cold", "gentle", "tall", "lazy",
                  "silver", "hungry", "distant", "curious", "narrow", "wooden", "patient", "crimson"],
    "noun": ["river", "lantern", "garden", "teacher", "window", "mountain", "bird", "train", "letter",
             "kitchen", "forest", "sailor", "candle", "bridge", "market", "violin", "harbour", "meadow",
             "painter", "blanket", "compass", "orchard", "tower", "engine", "village", "stranger",
             "island", "ribbon", "whistle", "basket"],
    "verb": ["waits", "sings", "shines", "rests", "moves", "glows", "sleeps", "turns", "stands", "falls",
             "wanders", "listens", "trembles", "returns", "gathers", "drifts", "whispers", "lingers"],
    "preposition": ["near", "under", "over", "behind", "past", "beside", "across", "beyond"],
    "adverb": ["today", "slowly", "again", "tonight", "softly", "early", "quietly", "yesterday"],
}
SPANISH = {
    "noun": ["el río", "la ventana", "el jardín", "la canción", "el árbol", "la montaña", "el pájaro",
             "la carta", "el corazón", "la cocina", "el puente", "la vela", "el camión", "la niña",
             "el marinero", "la isla", "el pueblo", "la estrella", "el caballo", "la puerta", "el reloj",
             "la playa", "el bosque", "la lámpara", "el músico", "la nube", "el violín", "la torre"],
    "adjective": ["grande", "verde", "azul", "alegre", "suave", "fuerte", "libre", "dulce", "gris", "joven",
                  "amable", "tenaz", "humilde", "lejana", "valiente", "sencillo", "frágil", "común"],
    "verb": ["espera", "canta", "brilla", "descansa", "camina", "duerme", "gira", "cae", "llega", "sueña",
             "escucha", "tiembla", "regresa", "susurra", "baila", "respira", "vuela", "navega"],
    "preposition": ["bajo", "sobre", "tras", "hacia", "junto a", "cerca de", "entre", "frente a"],
    "adverb": ["hoy", "ahora", "siempre", "temprano", "también", "mañana", "despacio", "luego"],
}
MANDARIN = {
    "subject": ["我们", "小猫", "老师", "妈妈", "朋友", "孩子", "爷爷", "学生", "小狗", "姐姐"],
    "time": ["今天", "明天", "早上", "晚上", "下午", "周末"],
    "verb": ["去", "在", "看", "走到", "回到", "住在"],
    "place": ["公园", "学校", "河边", "山上", "家里", "花园", "海边", "城里", "图书馆", "火车站"],
}


def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[rng.integers(len(words))]


def english_sentence(rng: np.random.Generator) -> str:
    """Determiner (adjective) noun verb [preposition determiner noun] [adverb]: 3-8 words."""
    words = [_pick(rng, ENGLISH["determiner"])]
    words += [_pick(rng, ENGLISH["adjective"])] if rng.random() < 0.5 else []
    words += [_pick(rng, ENGLISH["noun"]), _pick(rng, ENGLISH["verb"])]
    if rng.random() < 0.6:
        words += [_pick(rng, ENGLISH["preposition"]), _pick(rng, ENGLISH["determiner"]), _pick(rng, ENGLISH["noun"])]
    if len(words) < 8 and rng.random() < 0.5:
        words.append(_pick(rng, ENGLISH["adverb"]))
    return " ".join(words).capitalize() + "."


def spanish_sentence(rng: np.random.Generator) -> str:
    """Noun (adjective) verb [preposition noun] [adverb], the article travelling with its noun: 3-8 words."""
    words = _pick(rng, SPANISH["noun"]).split()
    words += [_pick(rng, SPANISH["adjective"])] if rng.random() < 0.5 else []
    words.append(_pick(rng, SPANISH["verb"]))
    if rng.random() < 0.6:
        words += _pick(rng, SPANISH["preposition"]).split() + _pick(rng, SPANISH["noun"]).split()
    if len(words) < 8 and rng.random() < 0.5:
        words.append(_pick(rng, SPANISH["adverb"]))
    return " ".join(words).capitalize() + "."


def mandarin_sentence(rng: np.random.Generator) -> str:
    """Subject time verb place, written without spaces: 4 words, 7-10 characters."""
    parts = [_pick(rng, MANDARIN[slot]) for slot in ("subject", "time", "verb", "place")]
    return "".join(parts) + "。"


SENTENCE_BUILDERS = {"en": english_sentence, "es": spanish_sentence, "zh": mandarin_sentence}


@dataclass(frozen=True)
class PlannedSample:
    """Everything about one sample except its audio; the audio follows from it deterministically."""

    sample_id: str
    voice: Voice
    language: str
    ref_text: str
    target_text: str
    ref_sample_rate: int
    target_sample_rate: int


def _clip_sample_rate(clip_number: int) -> int:
    """One clip in ten (clip_number % 10 == 7) gets a non-native rate, cycling through the others."""
    if clip_number % 10 != 7:
        return NATIVE_SAMPLE_RATE
    return OTHER_SAMPLE_RATES[(clip_number // 10) % len(OTHER_SAMPLE_RATES)]


def plan_samples() -> list[PlannedSample]:
    """The full sample list: transcripts, languages and clip rates, cheap to compute (no audio)."""
    planned = []
    for speaker_index, voice in enumerate(VOICES):
        for index in range(SAMPLES_PER_SPEAKER):
            rng = np.random.default_rng([DATA_SEED, speaker_index, index])
            # Every speaker speaks every language: voice identity is not confounded with language.
            language = "zh" if index % 12 == 11 else ("en" if (index + speaker_index) % 2 == 0 else "es")
            ref_text = SENTENCE_BUILDERS[language](rng)
            target_text = ref_text
            while target_text == ref_text:
                target_text = SENTENCE_BUILDERS[language](rng)
            clip_number = 2 * (speaker_index * SAMPLES_PER_SPEAKER + index)
            planned.append(PlannedSample(
                sample_id=f"{voice.speaker}_{index:04d}", voice=voice, language=language,
                ref_text=ref_text, target_text=target_text,
                ref_sample_rate=_clip_sample_rate(clip_number),
                target_sample_rate=_clip_sample_rate(clip_number + 1),
            ))
    return planned


CODEC_CLIPS_PER_SPEAKER = 16


def codec_fitting_clips() -> list[np.ndarray]:
    """Speech the tiny audio tokenizer is fitted on: every voice, new sentences, 24 kHz, no files."""
    clips = []
    for speaker_index, voice in enumerate(VOICES):
        for index in range(CODEC_CLIPS_PER_SPEAKER):
            rng = np.random.default_rng([DATA_SEED, 1000 + speaker_index, index])
            language = "zh" if index % 8 == 7 else ("en" if index % 2 == 0 else "es")
            clips.append(synthesize(SENTENCE_BUILDERS[language](rng), voice, NATIVE_SAMPLE_RATE, rng))
    return clips


def transcripts(samples: list[PlannedSample]) -> list[str]:
    """Text the tokenizer is trained on: every transcript plus the fixed prompts of the ChatML shape."""
    return [SYSTEM_PROMPT, INSTRUCTION.strip()] + [t for s in samples for t in (s.ref_text, s.target_text)]


def _write_clip(path: Path, text: str, voice: Voice, sample_rate: int, seed: list[int]) -> float:
    audio = synthesize(text, voice, sample_rate, np.random.default_rng(seed))
    soundfile.write(path, audio, sample_rate, subtype="PCM_16")
    return round(len(audio) / sample_rate, 3)


def _chatml_record(sample: PlannedSample, ref_audio: str, target_audio: str, target_duration: float) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": [
                {"type": "text", "text": sample.ref_text},
                {"type": "audio", "audio_url": ref_audio, "raw_audio": "", "duration": None, "offset": None},
                {"type": "text", "text": INSTRUCTION + sample.target_text},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": sample.target_text},
                {"type": "audio", "audio_url": target_audio, "raw_audio": "", "duration": target_duration,
                 "offset": None},
            ]},
        ],
        "start_index": 0,
        "speaker": sample.voice.speaker,
        "misc": {"sample_id": sample.sample_id, "ref_transcript": sample.ref_text,
                 "target_transcript": sample.target_text, "duration": target_duration,
                 "language": sample.language},
    }


def write_dataset(samples: list[PlannedSample], data_dir: Path) -> None:
    """Synthesise every clip into data_dir/clips and write the training file, manifest and speakers file."""
    (data_dir / "clips").mkdir(parents=True, exist_ok=True)
    records, manifest_lines = [], []
    for number, sample in enumerate(samples):
        ref_audio, target_audio = f"clips/{sample.sample_id}_ref.wav", f"clips/{sample.sample_id}_tgt.wav"
        _write_clip(data_dir / ref_audio, sample.ref_text, sample.voice, sample.ref_sample_rate,
                    [DATA_SEED, number, 0])
        target_duration = _write_clip(data_dir / target_audio, sample.target_text, sample.voice,
                                      sample.target_sample_rate, [DATA_SEED, number, 1])
        records.append(_chatml_record(sample, ref_audio, target_audio, target_duration))
        manifest_lines.append(json.dumps({
            "ref_audio": ref_audio, "ref_text": sample.ref_text, "target_audio": target_audio,
            "target_text": sample.target_text, "speaker": sample.voice.speaker,
            "language": sample.language, "sample_id": sample.sample_id,
        }, ensure_ascii=False))
    training_json = json.dumps(records, ensure_ascii=False, indent=1)
    (data_dir / TRAIN_DATA_FILE_NAME).write_text(training_json + "\n", encoding="utf-8")
    (data_dir / MANIFEST_FILE_NAME).write_text("\n".join(manifest_lines) + "\n", encoding="utf-8")
    speakers = json.dumps([dataclasses.asdict(voice) for voice in VOICES], indent=1)
    (data_dir / SPEAKERS_FILE_NAME).write_text(speakers + "\n", encoding="utf-8")
