"""SIM trend: does the decoded prediction come to sound like the reference's speaker?

With --audio-tokenizer and stratlog[voice] the sink's decoding process scores each capture:
SIM(reference, prediction) and SIM(reference, target), GE2E speaker-embedding cosines
(sink.audio_clips); the pipeline hands each row here when it arrives, never waiting for it. The
target's SIM is the ceiling: the same speaker through the same codec. What is judged is the gap
from the prediction's SIM up to it, over the run's captures (all ranks: they train one model). A
model that clones closes the gap while it learns the voice, as its conditioning effect rises.

Judging raw SIM would false-alarm: a codec that keeps little of a voice, or a tiny model whose
every decoded clip embeds alike (the demo's: SIM 0.999-1.0 for everything), gives flat SIM with
nothing wrong. So a WARN needs all of: the reference grace over, two full windows of captures, a
ceiling that separates speakers, the latest window's gap above SIM_GAP_WARN, and a gap that has not
narrowed by SIM_RISE_MIN since the first window. Before that the check is PENDING.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import OK, PENDING, WARN, Finding, rounded
from stratlog.sink.thresholds import REFERENCE_GRACE_STEPS, SIM_CEILING_MIN, SIM_GAP_WARN, SIM_RISE_MIN, SIM_WINDOW

CHECK = "sim_trend"


@dataclass
class SimSeries:
    """One run's scored captures: the first window kept, the latest window rolling."""

    first_step: int
    first: list[tuple[float, float]] = field(default_factory=list)
    """(SIM(reference, prediction), SIM(reference, target)) of the run's first SIM_WINDOW captures."""
    recent: deque = field(default_factory=lambda: deque(maxlen=SIM_WINDOW))
    count: int = 0

    def add(self, predicted: float, ceiling: float) -> None:
        if len(self.first) < SIM_WINDOW:
            self.first.append((predicted, ceiling))
        self.recent.append((predicted, ceiling))
        self.count += 1


def _means(window) -> tuple[float, float]:
    return sum(p for p, _ in window) / len(window), sum(c for _, c in window) / len(window)


class SimTrendJudge:
    def __init__(self) -> None:
        self._runs: dict[str, SimSeries] = {}

    def forget(self, run_id: str) -> None:
        """What is kept of a run the sink no longer keeps (`sink.state.RUNS_KEPT`) goes."""
        self._runs.pop(run_id, None)

    def evaluate(self, row: dict, context: RunContext | None, effect: str) -> list[Finding]:
        """`row`: one line of sim.jsonl (run_id, step, rank, the two scores); `effect`: the run's
        conditioning effect in words, said beside SIM. Rows without both scores are skipped."""
        if "sim_reference_predicted" not in row or "sim_reference_target" not in row:
            return []
        run_id, step, rank = row["run_id"], int(row["step"]), int(row["rank"])
        series = self._runs.setdefault(run_id, SimSeries(first_step=step))
        series.add(float(row["sim_reference_predicted"]), float(row["sim_reference_target"]))
        predicted, ceiling = _means(series.recent)
        gap = ceiling - predicted
        value = {"sim": rounded(predicted), "ceiling": rounded(ceiling), "gap": rounded(gap)}
        captures = f"mean of the latest {len(series.recent)} captures"
        judged_from = (context.judged_from(series.first_step, REFERENCE_GRACE_STEPS) if context is not None
                       else series.first_step - 1 + REFERENCE_GRACE_STEPS)
        seen = f"SIM(reference, prediction) {predicted:.3f}, ceiling SIM(reference, target) {ceiling:.3f} ({captures})"
        if step < judged_from or series.count < 2 * SIM_WINDOW:
            until = f"step {judged_from}" if step < judged_from else f"{2 * SIM_WINDOW} scored captures"
            severity, reason = PENDING, (f"pending until {until}: {seen}; {effect}; a model needs training before its "
                                         "prediction takes the reference's voice")
        elif ceiling < SIM_CEILING_MIN:
            severity, reason = OK, (f"SIM cannot judge cloning here: {seen}; the decoded target itself is below "
                                    f"{SIM_CEILING_MIN} from its reference (a codec that loses the voice, or mispaired "
                                    f"samples: see the input analysis's reference_pairs); {effect}")
        else:
            first_gap = _means(series.first)[1] - _means(series.first)[0]
            value["first_gap"] = rounded(first_gap)
            if gap > SIM_GAP_WARN and first_gap - gap < SIM_RISE_MIN:
                severity, reason = WARN, (
                    f"the prediction does not come to sound like the reference: {seen}, {gap:.3f} below it, and "
                    f"{first_gap:.3f} below over the first {len(series.first)} captures (from step "
                    f"{series.first_step}); {effect}; listen to the WAV files in audio/ and check the reference "
                    "attention and the conditioning effect per speaker")
            else:
                severity, reason = OK, (f"{seen}: {gap:.3f} below the ceiling, {first_gap:.3f} over the first "
                                        f"{len(series.first)} captures; {effect}")
        return [Finding(run_id, rank, step, "zero_shot", CHECK, severity, reason, value)]
