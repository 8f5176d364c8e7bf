"""Cheap checks over a whole data set for the bugs assembled cloning sets really have.

Each check reads only what preparation reads anyway (the sample list and the clips' headers) and
warns, naming samples, instead of rejecting: what it finds is suspicious, not necessarily wrong,
and a person decides. README "Pair check" lists them with what each costs and catches.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict

from stratlog.trainer.data.audio_codes import inspect_clip
from stratlog.trainer.data.samples import SampleError, VoiceCloningSample

NAMED = 5
"""Sample ids a warning names before it only counts the rest."""

RATE_FACTOR = 2.5
"""A target whose transcript has 2.5 times more, or fewer, characters per second than the set's
median is flagged: speaking rates of read and spontaneous speech differ by well under that (about
10-20 characters a second), while a transcript shifted by one row or a clip cut mid-sentence is off
by several times."""


def _names(ids: list[str]) -> str:
    more = f" (+{len(ids) - NAMED} more)" if len(ids) > NAMED else ""
    return ", ".join(ids[:NAMED]) + more


def _spoken(text: str) -> str:
    """The letters of a transcript, lower-cased, without markup such as <SE>[Laughter]</SE>."""
    return "".join(ch for ch in re.sub(r"<[^>]*>|\[[^\]]*\]", "", text).lower() if ch.isalnum())


def shared_targets(samples: list[VoiceCloningSample]) -> str | None:
    """The same target clip in several samples: a corpus merged twice, or pairs cut by a script that
    reused a row; those targets weigh double and may sit in both training and evaluation."""
    by_clip: dict = defaultdict(list)
    for sample in samples:
        by_clip[sample.target_audio].append(sample.sample_id)
    repeated = [ids for ids in by_clip.values() if len(ids) > 1]
    if not repeated:
        return None
    ids = [sample_id for group in repeated for sample_id in group]
    return f"warning: {len(repeated)} target clip(s) are the target of several samples: {_names(ids)}"


def same_transcripts(samples: list[VoiceCloningSample]) -> str | None:
    """A reference transcript equal to its target's: likely the same utterance cut twice, so the
    model hears the answer in its reference."""
    ids = [s.sample_id for s in samples if _spoken(s.ref_text) and _spoken(s.ref_text) == _spoken(s.target_text)]
    if not ids:
        return None
    return f"warning: {len(ids)} sample(s) have the same reference and target transcript (the same utterance?): {_names(ids)}"


def transcript_rates(samples: list[VoiceCloningSample]) -> str | None:
    """Characters a second of each target against the set's median: a transcript shifted to another
    clip, an ASR transcript of half the clip, or a clip trimmed mid-sentence is off by several times."""
    rates = {}
    for sample in samples:
        try:
            seconds = inspect_clip(sample.target_audio, sample_id=sample.sample_id).seconds
        except SampleError:
            continue  # validation reports unreadable clips
        if seconds > 0 and _spoken(sample.target_text):
            rates[sample.sample_id] = len(_spoken(sample.target_text)) / seconds
    if len(rates) < 3:
        return None
    median = statistics.median(rates.values())
    ids = [sample_id for sample_id, rate in rates.items() if not median / RATE_FACTOR <= rate <= median * RATE_FACTOR]
    if not ids:
        return None
    return (f"warning: {len(ids)} target transcript(s) do not fit their clip's length (characters a second more than "
            f"{RATE_FACTOR}x off the set's median {median:.1f}; a transcript of another clip, or a clip cut short?): "
            f"{_names(ids)}")


def set_warnings(samples: list[VoiceCloningSample]) -> list[str]:
    """The checks that read nothing but the data file (a few seconds for 10^6 samples): kept in the
    prepared set's manifest, so every training start prints them with the resampling note.
    `transcript_rates` reads a header per clip and runs in `stratlog tokenize` only."""
    return [warning for warning in (shared_targets(samples), same_transcripts(samples)) if warning]
