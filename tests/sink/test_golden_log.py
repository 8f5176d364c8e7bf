"""Golden test of what the sink writes from two ranks: the exact loss, accuracy and zero-shot lines
of strategic_log.txt, and the rank of every findings.jsonl line.

Run: `python -m pytest -q tests/sink/test_golden_log.py` (under a second).

Hand-built snapshots (tests/sink/builders.py) with values chosen distinct everywhere: text loss
vs audio loss vs the per-codebook losses, text vs audio accuracy, rank 0 vs rank 1, so a value
shown in the wrong place or from the wrong rank changes a line. The expected lines are written
out by hand from those values, not produced by the code under test. Each rank's zero-shot effect
sits on a different side of the 0.01-nat threshold, so the two ranks' findings differ as well
(below it at the first capture: PENDING, the model has not had time to learn the voice).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stratlog.protocol import Array, encode
from stratlog.sink.pipeline import SinkPipeline
from tests.sink.builders import attention_snapshot, input_snapshot, output_snapshot, run_start, zero_shot_snapshot

T0 = 1_700_000_000.0
STEP = 10

VALUES = {  # rank -> what its output and zero-shot snapshots carry
    0: dict(text_loss=1.2345, audio_loss=4.5678, codebook_losses=[4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7, 4.8],
            text_accuracy=0.375, text_label_count=40, audio_accuracy=0.125,
            codebook_accuracies=[0.5, 0.25, 0.125, 0.0625, 0.0, 0.0, 0.0, 0.0625], true_loss=5.0, effect=0.3),
    1: dict(text_loss=2.5, audio_loss=6.75, codebook_losses=[6.0, 6.25, 6.5, 6.75, 7.0, 7.25, 7.5, 7.75],
            text_accuracy=0.8125, text_label_count=48, audio_accuracy=0.4375,
            codebook_accuracies=[0.75, 0.5, 0.5, 0.5, 0.25, 0.25, 0.5, 0.25], true_loss=4.0, effect=0.005),
}

EXPECTED_LINES = {
    0: [
        "├── Losses: text 1.2345, audio 4.5678, per codebook [4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7, 4.8]",
        "├── Accuracy: text 37.50% of 40 label positions, audio 12.50% "
        "(per codebook [0.5, 0.25, 0.125, 0.0625, 0.0, 0.0, 0.0, 0.0625])",
        "├── Sample s0: spk00 (en) with spk01's reference (en): true 5.0000, swapped 5.3000, effect +0.3000",
        "├── Sample s3: spk03 (es) with spk00's reference (en): true 5.0000, swapped 5.3000, effect +0.3000",
    ],
    1: [
        "├── Losses: text 2.5000, audio 6.7500, per codebook [6.0, 6.25, 6.5, 6.75, 7.0, 7.25, 7.5, 7.75]",
        "├── Accuracy: text 81.25% of 48 label positions, audio 43.75% "
        "(per codebook [0.75, 0.5, 0.5, 0.5, 0.25, 0.25, 0.5, 0.25])",
        "├── Sample s0: spk00 (en) with spk01's reference (en): true 4.0000, swapped 4.0050, effect +0.0050",
        "├── Sample s3: spk03 (es) with spk00's reference (en): true 4.0000, swapped 4.0050, effect +0.0050",
    ],
}
"""Per rank, the lines of its entry that show the numbers above (the zero-shot rows: first and last)."""


def _float(values) -> Array:
    return Array.from_numpy(np.asarray(values, dtype=np.float32))


def rank_messages(rank: int) -> list:
    values = VALUES[rank]
    envelope = dict(rank=rank, step=STEP)
    output = output_snapshot(
        seq=2, **envelope, text_loss=values["text_loss"], audio_loss=values["audio_loss"],
        codebook_losses=_float(values["codebook_losses"]), text_accuracy=values["text_accuracy"],
        text_label_count=values["text_label_count"], audio_accuracy=values["audio_accuracy"],
        codebook_accuracies=_float(values["codebook_accuracies"]))
    return [input_snapshot(seq=1, **envelope), output, attention_snapshot(seq=3, **envelope),
            zero_shot_snapshot(seq=4, effect=values["effect"], true_loss=values["true_loss"], **envelope)]


def entry_of(log: str, rank: int) -> list[str]:
    (entry,) = [part for part in log.split("=== Zero-Shot Voice Cloning Training Log") if f"Rank: {rank} of 2" in part]
    return entry.splitlines()


@pytest.fixture
def written(tmp_path):
    """Both ranks' run starts and snapshots, interleaved, through one pipeline; after each frame
    the new findings.jsonl lines are kept with the rank of the frame that produced them."""
    pipeline = SinkPipeline(tmp_path)
    findings_file = tmp_path / "findings.jsonl"
    frames = [run_start(rank=0), run_start(rank=1)]
    frames += [message for pair in zip(rank_messages(0), rank_messages(1)) for message in pair]
    produced = []
    for index, message in enumerate(frames):
        pipeline.handle(encode(message), T0 + 0.01 * index)
        pipeline.files.flush()
        lines = findings_file.read_text().splitlines() if findings_file.is_file() else []
        produced += [(message.rank, json.loads(line)) for line in lines[len(produced):]]
    pipeline.close()
    return (tmp_path / "strategic_log.txt").read_text(), produced


@pytest.mark.parametrize("rank", [0, 1])
def test_each_ranks_entry_shows_its_own_losses_accuracies_and_zero_shot_rows(written, rank):
    log, _ = written
    lines = entry_of(log, rank)
    shown = [line for line in lines if line.startswith(("├── Losses:", "├── Accuracy:"))]
    shown += [line for line in lines if line.startswith(("├── Sample s0:", "├── Sample s3:"))]
    assert shown == EXPECTED_LINES[rank]


def test_every_finding_names_the_rank_whose_frame_produced_it(written):
    _, produced = written
    assert produced, "no findings at all"
    assert [(rank, finding["rank"]) for rank, finding in produced if finding["rank"] != rank] == []
    for rank in (0, 1):  # every analysis judged each rank's own frames
        assert {f["analysis"] for r, f in produced if r == rank} == {"stream", "input", "output", "attention", "zero_shot"}
    effects = {(f["rank"], f["severity"]) for _, f in produced if (f["analysis"], f["check"]) == ("zero_shot", "conditioning_effect")}
    assert effects == {(0, "OK"), (1, "PENDING")}  # 0.3 and 0.005 nats either side of the 0.01 threshold
