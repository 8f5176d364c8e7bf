"""StepSamples.most_shared_with: the other rank holding the most of a rank's samples (the lowest
such rank), whether every rank shares them (the missing-sampler fault, found by intersection) or
only some do (counted).
Run: python -m pytest -q tests/sink/analysis/test_step_samples.py"""

import random

from stratlog.sink.analysis.input import StepSamples


def most_shared_by_counting(by_rank: dict[int, frozenset[str]], rank: int) -> tuple[int | None, int]:
    counts = {other: len(by_rank[rank] & samples) for other, samples in by_rank.items() if other != rank}
    counts = {other: count for other, count in counts.items() if count}
    return max(counts.items(), key=lambda item: (item[1], -item[0])) if counts else (None, 0)


def test_the_rank_sharing_most_is_the_one_counting_finds():
    rng = random.Random(1)
    for _ in range(2000):
        seen = StepSamples()
        for rank in rng.sample(range(20), rng.randint(1, 12)):
            seen.add(rank, frozenset(f"s{rng.randrange(rng.randint(1, 10))}" for _ in range(rng.randint(0, 4))))
        for rank in seen.by_rank:
            assert seen.most_shared_with(rank) == most_shared_by_counting(seen.by_rank, rank)


def test_every_rank_holding_every_sample_names_the_lowest_other_rank():
    seen = StepSamples()
    for rank in range(2048):
        seen.add(rank, frozenset({"a", "b"}))
    assert seen.most_shared_with(0) == (1, 2)
    assert seen.most_shared_with(700) == (0, 2)
