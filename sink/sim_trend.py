"""SIM per speaker over the run, beside the conditioning effect, written when the sink closes.

The decoding process scores SIM per capture (sink.audio_clips, `audio/sim.jsonl`); an output
snapshot names no speaker, so the speaker of its sample comes from the same step's input snapshot
of the same rank. The conditioning effect per speaker comes from the zero-shot snapshots (swapped
minus true reference loss): a model that uses the reference has both a positive effect and a SIM
that rises toward the ceiling SIM(reference, target), the most the codec leaves.
"""

from __future__ import annotations

import math
from collections import defaultdict

from stratlog.protocol import InputSnapshot, ZeroShotSnapshot
from stratlog.sink.analysis.zero_shot import effects

REMEMBERED_STEPS = 64
"""Input snapshots' speakers kept per rank, until the same step's output snapshot asks."""


class SimTrend:
    def __init__(self) -> None:
        self._speakers: dict[tuple[str, int, int], list[str]] = {}
        self._effects: dict[str, list[float]] = defaultdict(list)

    def note(self, message) -> None:
        if isinstance(message, InputSnapshot):
            self._speakers[(message.run_id, message.rank, message.step)] = list(message.speakers)
            while len(self._speakers) > REMEMBERED_STEPS:
                del self._speakers[next(iter(self._speakers))]
        elif isinstance(message, ZeroShotSnapshot):
            for speaker, effect in zip(message.speakers, effects(message).tolist()):
                if not math.isnan(effect):
                    self._effects[speaker].append(effect)

    def speaker_of(self, run_id: str, rank: int, step: int, sample: int) -> str:
        speakers = self._speakers.get((run_id, rank, step), [])
        return speakers[sample] if sample < len(speakers) else ""

    def summary(self, rows: list[dict]) -> str:
        """The block for strategic_log.txt from sim.jsonl's rows; "" when there are none."""
        by_speaker: dict[str, list[dict]] = defaultdict(list)
        for row in sorted(rows, key=lambda row: (row["step"], row["rank"])):
            if "sim_reference_predicted" in row:
                by_speaker[row.get("speaker") or "?"].append(row)
        if not by_speaker:
            return ""
        lines = ["=== SIM trend: speaker similarity of the reference and the decoded prediction, per speaker ===",
                 f"{'speaker':<12} {'captures':>8}  {'SIM first -> last (steps)':<30} {'ceiling':>7}  conditioning effect"]
        for speaker, found in sorted(by_speaker.items()):
            first, last = found[0], found[-1]
            ceilings = [row["sim_reference_target"] for row in found if "sim_reference_target" in row]
            ceiling = f"{sum(ceilings) / len(ceilings):.3f}" if ceilings else "-"
            measured = self._effects.get(speaker, [])
            effect = f"{sum(measured) / len(measured):+.3f} nats (n={len(measured)})" if measured else "not measured"
            trend = (f"{first['sim_reference_predicted']:.3f} -> {last['sim_reference_predicted']:.3f} "
                     f"({first['step']} -> {last['step']})")
            lines.append(f"{speaker:<12} {len(found):>8}  {trend:<30} {ceiling:>7}  {effect}")
        return "\n".join(lines) + "\n\n"
