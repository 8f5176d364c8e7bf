"""Small data files for trainer tests, built in a temporary folder from demo samples.

Copying a few demo records (and their clips) keeps each test's data tiny and lets a test break
one sample at a time without touching the shared demo build.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path


def demo_records(demo_assets, count: int) -> list[dict]:
    return json.loads(demo_assets.train_data_file.read_text(encoding="utf-8"))[:count]


def audio_items(record: dict) -> tuple[dict, dict]:
    """(reference audio item, target audio item) of a ChatML record."""
    user, assistant = record["messages"][1]["content"], record["messages"][2]["content"]
    return next(i for i in user if i["type"] == "audio"), next(i for i in assistant if i["type"] == "audio")


def write_data_file(demo_assets, folder: Path, records: list[dict]) -> Path:
    """Writes records (copied) to folder/train.json with their clips copied into folder/clips."""
    records = copy.deepcopy(records)
    source = demo_assets.train_data_file.parent
    for record in records:
        for item in audio_items(record):
            target = folder / item["audio_url"]
            if (source / item["audio_url"]).is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source / item["audio_url"], target)
    path = folder / "train.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def train_args(demo_assets, data_file: Path, output_dir: Path, *extra: str) -> list[str]:
    """Flags for a short CPU run of train_v2_ddp.py on the embedded checkpoint."""
    return [
        "--model_path", str(demo_assets.model_dir), "--audio_tokenizer_path", str(demo_assets.audio_tokenizer_dir),
        "--train_data_file", str(data_file), "--output_dir", str(output_dir),
        "--audio_codes_cache", str(demo_assets.root / "audio-codes-cache"),
        "--per_device_train_batch_size", "2", "--learning_rate", "2e-3", "--logging_steps", "1",
        "--report_to", "none", "--seed", "42", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
        "--use_cpu", "true", *extra,
    ]
