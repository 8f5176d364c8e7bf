"""A debug record of which samples each rank trained on, step by step (`--record_sample_ids`).

It exists to make data sharding observable: with DDP every rank must see different samples
within an epoch, and on resume the data order must continue where it stopped. Each rank appends
one JSON line per training micro-batch to `<output_dir>/sample_ids/rank<R>.jsonl`:
`{"step": <optimizer step this micro-batch belongs to>, "sample_ids": [...]}`. The ids come from
the batch the model actually received (the collator's `sample_meta`), not from the sampler.
"""

from __future__ import annotations

import json
from pathlib import Path


class SampleIdRecorder:
    def __init__(self, output_dir: str | Path, rank: int):
        self.path = Path(output_dir) / "sample_ids" / f"rank{rank}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, step: int, sample_meta: list[dict]) -> None:
        line = json.dumps({"step": step, "sample_ids": [meta["sample_id"] for meta in sample_meta]}, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def read_sample_ids(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
