"""Formant-synthesised speech for the demo data set: stable, measurable voices whose sound follows the text.

Voice cloning can only be checked when speakers differ in ways one can measure, so every demo
speaker is a fixed `Voice`: mean fundamental frequency (pitch), vocal-tract scale (all formant and
fricative frequencies multiplied by it: timbre), spectral tilt (how fast harmonics fall off:
bright or dark) and breathiness (aspiration noise). The audio is derived from the transcript, so
text and audio correlate: each letter becomes a short segment (a vowel with its formants, a voiced
consonant, a filtered noise burst for a fricative, closure and burst for a plosive, a pause for a
space), and each CJK character becomes a consonant-vowel syllable with one of four pitch contours
chosen from its code point. Everything is numpy with a caller-supplied generator: same inputs, same
samples.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.005
"""Control-track resolution: formants, gains and pitch are set per 5 ms frame, then interpolated."""

MIN_CLIP_SECONDS = 1.0
MAX_CLIP_SECONDS = 2.2
LEAD_SECONDS = 0.06
TAIL_SECONDS = 0.08


@dataclass(frozen=True)
class Voice:
    """One speaker's fixed identity; the values are written to speakers.json."""

    speaker: str
    """Speaker id used in file names and the `speaker` field, e.g. "spk03"."""
    mean_f0_hz: float
    """Average pitch; intonation and tones move around it by at most about 15 %."""
    vocal_tract_scale: float
    """Multiplies every formant and noise-band frequency (about 0.88 for a long tract, 1.2 for a short one)."""
    spectral_tilt: float
    """Harmonic k has amplitude k ** -spectral_tilt: larger is darker."""
    breathiness: float
    """Aspiration noise level relative to the voiced signal, 0 (none) to about 0.3."""
    speaking_rate: float
    """Segment duration multiplier before fitting the clip into the allowed length: larger is slower."""


VOICES: tuple[Voice, ...] = (
    Voice("spk00", 95.0, 0.88, 1.30, 0.04, 1.10),
    Voice("spk01", 112.0, 0.95, 0.90, 0.15, 0.95),
    Voice("spk02", 130.0, 0.91, 1.10, 0.25, 1.00),
    Voice("spk03", 150.0, 1.02, 0.70, 0.08, 1.05),
    Voice("spk04", 178.0, 1.10, 1.20, 0.20, 0.90),
    Voice("spk05", 205.0, 1.06, 0.80, 0.05, 1.00),
    Voice("spk06", 232.0, 1.16, 1.00, 0.30, 1.08),
    Voice("spk07", 262.0, 1.22, 0.60, 0.12, 0.92),
)

# Formants (Hz, before vocal-tract scaling) of the five cardinal vowels and of the voiced
# consonants, which are quieter and darker.
VOWEL_FORMANTS = {
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}
VOICED_CONSONANT_FORMANTS = {
    "m": (250.0, 1100.0, 2200.0),
    "n": (250.0, 1600.0, 2500.0),
    "l": (360.0, 1300.0, 2700.0),
    "r": (420.0, 1300.0, 1600.0),
    "w": (300.0, 700.0, 2200.0),
    "y": (280.0, 2200.0, 2900.0),
    "v": (300.0, 1200.0, 2300.0),
}
# Noise-band centre (Hz, before scaling) and relative width of fricatives and plosive bursts.
FRICATIVE_BANDS = {"s": (6000.0, 0.25), "z": (5500.0, 0.3), "f": (4000.0, 0.6), "h": (1500.0, 0.8),
                   "x": (3000.0, 0.4), "j": (2500.0, 0.4), "c": (5000.0, 0.3)}
PLOSIVE_BANDS = {"p": (800.0, 0.8), "b": (600.0, 0.8), "t": (4000.0, 0.5), "d": (3500.0, 0.5),
                 "k": (2000.0, 0.5), "g": (1800.0, 0.5), "q": (2000.0, 0.5)}
# Syllable onsets for CJK characters; one is picked from each character's code point.
CJK_ONSETS = ("b", "d", "g", "p", "t", "k", "m", "n", "l", "s", "h", "x", "j", "c", "z", "w")
# Pitch contours of the four tones, as f0 multipliers at the start and end of the syllable.
TONE_CONTOURS = ((1.06, 1.06), (0.92, 1.08), (0.96, 0.88), (1.1, 0.92))

SEGMENT_SECONDS = {"vowel": 0.085, "voiced": 0.06, "fricative": 0.07, "plosive": 0.05, "pause": 0.04}
RESONANCE_WEIGHTS = np.array([1.0, 0.6, 0.3])
RESONANCE_BANDWIDTHS_HZ = np.array([90.0, 120.0, 170.0])


@dataclass(frozen=True)
class Segment:
    """One stretch of the control track: a kind, a spectral target and a pitch contour."""

    kind: str
    """"vowel", "voiced", "fricative", "plosive" or "pause" (keys of SEGMENT_SECONDS)."""
    target: tuple[float, ...] = ()
    """Formants for vowel/voiced, (noise centre, relative width) for fricative/plosive."""
    tone: tuple[float, float] = (1.0, 1.0)


def _letter_segments(letter: str) -> list[Segment]:
    if letter in VOWEL_FORMANTS:
        return [Segment("vowel", VOWEL_FORMANTS[letter])]
    if letter in VOICED_CONSONANT_FORMANTS:
        return [Segment("voiced", VOICED_CONSONANT_FORMANTS[letter])]
    if letter in FRICATIVE_BANDS:
        return [Segment("fricative", FRICATIVE_BANDS[letter])]
    if letter in PLOSIVE_BANDS:
        return [Segment("plosive", PLOSIVE_BANDS[letter])]
    return []


def text_to_segments(text: str) -> list[Segment]:
    """Map a transcript to segments: letters by sound class, CJK characters to syllables, spaces to pauses."""
    segments: list[Segment] = []
    for character in text:
        if "\u4e00" <= character <= "\u9fff":
            code = ord(character)
            tone = TONE_CONTOURS[(code // 80) % 4]
            vowel = "aeiou"[(code // 16) % 5]
            onset = _letter_segments(CJK_ONSETS[code % len(CJK_ONSETS)])
            segments += onset + [Segment("vowel", VOWEL_FORMANTS[vowel], tone)]
        elif character.isspace() or unicodedata.category(character).startswith("P"):
            segments.append(Segment("pause"))
        else:
            # Strip accents: "í" sounds like "i", "ñ" like "n".
            base = unicodedata.normalize("NFD", character.lower())[0]
            segments += _letter_segments(base)
    return segments


def _band_noise(length: int, centre_hz: float, relative_width: float, sample_rate: int,
                rng: np.random.Generator) -> np.ndarray:
    """White noise shaped in the frequency domain by a Gaussian band around `centre_hz`."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    frequencies = np.fft.rfftfreq(length, 1.0 / sample_rate)
    spectrum *= np.exp(-0.5 * ((frequencies - centre_hz) / (centre_hz * relative_width)) ** 2)
    noise = np.fft.irfft(spectrum, length)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-9)


def synthesize(text: str, voice: Voice, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Speak `text` in `voice`: float32 mono in [-1, 1], 1.0 to 2.2 s long, at `sample_rate` Hz."""
    segments = text_to_segments(text)
    if not segments:
        raise ValueError(f"synthesize: nothing to speak in {text!r} (no letters, CJK characters or spaces)")
    durations = np.array([SEGMENT_SECONDS[s.kind] for s in segments]) * voice.speaking_rate
    durations *= rng.uniform(0.85, 1.15, len(segments))
    # Fit the speech between the lead and tail silences into the allowed clip length.
    speech_bounds = (MIN_CLIP_SECONDS - LEAD_SECONDS - TAIL_SECONDS, MAX_CLIP_SECONDS - LEAD_SECONDS - TAIL_SECONDS)
    durations *= np.clip(durations.sum(), *speech_bounds) / durations.sum()
    # Rounding the cumulative end times keeps the total within bounds (a segment may get 0 frames).
    frame_counts = np.diff(np.round(np.cumsum(durations) / FRAME_SECONDS).astype(int), prepend=0)

    # Per-frame control tracks, then smoothed so segments glide into each other (coarticulation).
    formants = np.repeat([s.target if s.kind in ("vowel", "voiced") else (500.0, 1500.0, 2500.0)
                          for s in segments], frame_counts, axis=0) * voice.vocal_tract_scale
    voiced_gain = np.repeat([{"vowel": 1.0, "voiced": 0.45}.get(s.kind, 0.0) for s in segments], frame_counts)
    tone = np.concatenate([np.linspace(*s.tone, n) for s, n in zip(segments, frame_counts)])
    kernel = np.hanning(7) / np.hanning(7).sum()
    formants = np.stack([np.convolve(track, kernel, mode="same") for track in formants.T], axis=1)
    formants[:3], formants[-3:] = formants[3], formants[-4]  # undo the zero-padding droop at the edges
    voiced_gain = np.convolve(voiced_gain, kernel, mode="same")
    frame_total = len(voiced_gain)
    declination = np.linspace(1.08, 0.92, frame_total)
    drift = 1.0 + 0.02 * np.convolve(rng.standard_normal(frame_total), np.ones(20) / 20, mode="same")
    f0 = voice.mean_f0_hz * declination * tone * drift

    # Additive harmonic synthesis: harmonic k sits at k * f0 and takes the formant envelope's value there.
    max_frequency = min(5000.0, 0.45 * sample_rate)
    harmonic_numbers = np.arange(1, int(max_frequency / f0.min()) + 1)[:, None]
    harmonic_hz = harmonic_numbers * f0[None, :]
    offsets = (harmonic_hz[:, :, None] - formants[None, :, :]) / (RESONANCE_BANDWIDTHS_HZ / 2)
    envelope = (RESONANCE_WEIGHTS / (1.0 + offsets**2)).sum(axis=2) + 0.01
    amplitudes = envelope * harmonic_numbers ** -voice.spectral_tilt * voiced_gain * (harmonic_hz < max_frequency)

    speech_samples = int(round(frame_total * FRAME_SECONDS * sample_rate))
    frame_position = np.arange(speech_samples) / (FRAME_SECONDS * sample_rate)
    frame_index = np.minimum(frame_position.astype(int), frame_total - 2)
    weight = np.minimum(frame_position - frame_index, 1.0).astype(np.float32)
    sample_f0 = f0[frame_index] * (1 - weight) + f0[frame_index + 1] * weight
    phase = (2 * np.pi * np.cumsum(sample_f0) / sample_rate).astype(np.float32)
    amplitudes = amplitudes.astype(np.float32)
    sample_amplitudes = amplitudes[:, frame_index] * (1 - weight) + amplitudes[:, frame_index + 1] * weight
    speech = (sample_amplitudes * np.sin(harmonic_numbers.astype(np.float32) * phase)).sum(axis=0)
    speech /= np.sqrt(np.mean(speech**2)) + 1e-9

    # Breathiness: high-passed noise pulsing with the glottal cycle, only where the voice sounds.
    sample_voicing = voiced_gain[frame_index] * (1 - weight) + voiced_gain[frame_index + 1] * weight
    aspiration = np.diff(rng.standard_normal(speech_samples + 1)) * (0.6 + 0.4 * np.cos(phase))
    speech += voice.breathiness * 1.5 * aspiration * sample_voicing

    # Fricatives and plosive bursts are band-passed noise placed at their segments.
    boundaries = np.concatenate([[0], np.cumsum(frame_counts)]) * FRAME_SECONDS * sample_rate
    for segment, start, end in zip(segments, boundaries[:-1].astype(int), boundaries[1:].astype(int)):
        if segment.kind not in ("fricative", "plosive") or end <= start:
            continue
        centre, width = segment.target
        if segment.kind == "plosive":
            start += (end - start) * 3 // 5  # a closure (silence) first, the burst at the end
        noise = _band_noise(end - start, centre * voice.vocal_tract_scale, width, sample_rate, rng)
        level = 0.35 if segment.kind == "fricative" else 0.6
        speech[start:end] += level * noise * np.hanning(end - start)

    lead = np.zeros(int(LEAD_SECONDS * sample_rate))
    tail = np.zeros(int(TAIL_SECONDS * sample_rate))
    clip = np.concatenate([lead, speech, tail])
    return (0.9 * clip / np.abs(clip).max()).astype(np.float32)
