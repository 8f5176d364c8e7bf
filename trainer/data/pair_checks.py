"""The pair check: is each sample's reference clip its target's speaker, and not the target itself?

The most common data bug in assembled cloning sets is a wrong pairing: a reference clip of another
speaker (pairs cut by a script that slipped by one row). Its opposite is a leak: the reference is
the target itself or a copy of it, so the model can copy the answer. Both are judged from one number
per sample, stored with the prepared example and sent in the input snapshot (the reference segment's
`pair_similarity`): the cosine of the two clips' speaker embeddings, or exactly 1 where the two clips
are the same file slice or have the same codes (checked always: free). The sink's input analysis
judges it against thresholds measured on same- and different-speaker pairs (sink/thresholds.py).

Embedding costs about 0.1-1 s a clip on CPU, so it runs only when asked: `--pair_check` of
`stratlog tokenize` or of the training script (its data arguments), carried by the preparation's
config to every shard worker (each clip is embedded once per process, however many samples share
it). It needs the optional extra `stratlog[voice]`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from stratlog.protocol.pair_similarity import PAIR_SIMILARITY_OTHER_SPEAKER, PAIR_SIMILARITY_SAME_RECORDING
from stratlog.trainer.data.audio_codes import load_audio
from stratlog.trainer.data.samples import AudioClip, VoiceCloningSample
from stratlog.trainer.data.speaker_embedding import EMBEDDING_SAMPLE_RATE, SpeakerEmbedder, cosine

NOT_MEASURED = -1.0
SAME_RECORDING = 1.0
"""What a pair whose two clips are one recording (the same file slice, or the same codes) scores."""


def same_recording(reference: AudioClip, target: AudioClip, reference_codes: np.ndarray,
                   target_codes: np.ndarray) -> bool:
    """The same slice of the same file, or clips the codec turned into the very same codes."""
    same_slice = (reference.path.resolve() == target.path.resolve() and reference.offset == target.offset
                  and reference.duration == target.duration)
    return same_slice or np.array_equal(reference_codes, target_codes)


class PairChecker:
    """Embeds each clip once and scores a sample's pair."""

    def __init__(self, embedder: SpeakerEmbedder):
        self._embedder = embedder
        self._embeddings: dict[AudioClip, np.ndarray] = {}

    def embedding(self, clip: AudioClip, sample_id: str) -> np.ndarray:
        if clip not in self._embeddings:
            self._embeddings[clip] = self._embedder.embed(load_audio(clip, EMBEDDING_SAMPLE_RATE, sample_id=sample_id))
        return self._embeddings[clip]

    def similarity(self, sample: VoiceCloningSample) -> float:
        return cosine(self.embedding(sample.ref_audio, sample.sample_id),
                      self.embedding(sample.target_audio, sample.sample_id))


_checker: PairChecker | None = None


def pair_similarity(sample: VoiceCloningSample, reference_codes: np.ndarray, target_codes: np.ndarray, *,
                    embed: bool = False) -> float:
    """A sample's stored pair score: SAME_RECORDING, the embedding cosine when `embed` (the pair
    check is on), else NOT_MEASURED. One checker per process (a shard worker loads the encoder once)."""
    global _checker
    if same_recording(sample.ref_audio, sample.target_audio, reference_codes, target_codes):
        return SAME_RECORDING
    if not embed:
        return NOT_MEASURED
    if _checker is None:
        _checker = PairChecker(SpeakerEmbedder())
    return round(_checker.similarity(sample), 4)


NAMED = 20
"""Sample ids a data-set warning names before it only counts the rest."""


def shard_scores(shard: Path) -> Iterable[dict]:
    """Each prepared example's sample id and score, from the shard's meta.jsonl (trainer/data/prepared.py)."""
    with open(shard / "meta.jsonl", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def pair_warnings(records: Iterable[dict]) -> list[str]:
    """The whole data set's flagged pairs, named, by the thresholds the sink's input analysis uses:
    a capture shows one batch, this shows every sample (printed at prepare time and at each start)."""
    other, same = [], []
    for record in records:
        score = record.get("pair_similarity", NOT_MEASURED)
        if 0 <= score < PAIR_SIMILARITY_OTHER_SPEAKER:
            other.append(record["sample_id"])
        elif score >= PAIR_SIMILARITY_SAME_RECORDING:
            same.append(record["sample_id"])

    def named(ids: list[str]) -> str:
        return ", ".join(ids[:NAMED]) + (f" (+{len(ids) - NAMED} more)" if len(ids) > NAMED else "")

    warnings = []
    if other:
        warnings.append(f"warning: {len(other)} sample(s) have a reference of another speaker (pair check similarity "
                        f"below {PAIR_SIMILARITY_OTHER_SPEAKER}): {named(other)}")
    if same:
        warnings.append(f"warning: {len(same)} sample(s) have a reference that is the target's own recording (the same "
                        f"file, the same codes, or similarity {PAIR_SIMILARITY_SAME_RECORDING} or more): {named(same)}")
    return warnings
