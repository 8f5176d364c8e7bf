"""Dataset and collator: prepared examples in, padded model batches out.

Examples are built once up front (codes come from the cache), so `__getitem__` is a list
lookup and DataLoader workers are unnecessary. The collator right-pads text to the longest
sample and concatenates nothing across samples: each row keeps its own audio frames, padded
with stream EOS and masked out by `audio_input_ids_mask`, which is how the Higgs model
scatters audio embeddings into the audio-token positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, TrainingExample


class VoiceCloningDataset(Dataset):
    def __init__(self, examples: list[TrainingExample]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> TrainingExample:
        return self.examples[index]


@dataclass
class VoiceCloningCollator:
    ids: AudioTokenIds

    def __call__(self, examples: list[TrainingExample]) -> dict:
        batch_size = len(examples)
        length = max(len(example.input_ids) for example in examples)
        frames = max(len(example.audio_input_ids) for example in examples)
        codebooks = self.ids.num_codebooks
        input_ids = np.full((batch_size, length), self.ids.pad_token, dtype=np.int64)
        labels = np.full((batch_size, length), IGNORE_INDEX, dtype=np.int64)
        attention_mask = np.zeros((batch_size, length), dtype=np.int64)
        audio_input_ids = np.full((batch_size, frames, codebooks), self.ids.stream_eos, dtype=np.int64)
        audio_labels = np.full((batch_size, frames, codebooks), IGNORE_INDEX, dtype=np.int64)
        audio_mask = np.zeros((batch_size, frames), dtype=bool)
        for row, example in enumerate(examples):
            n, f = len(example.input_ids), len(example.audio_input_ids)
            input_ids[row, :n] = example.input_ids
            labels[row, :n] = example.labels
            attention_mask[row, :n] = 1
            audio_input_ids[row, :f] = example.audio_input_ids
            audio_labels[row, :f] = example.audio_labels
            audio_mask[row, :f] = True
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "labels": torch.from_numpy(labels),
            "audio_input_ids": torch.from_numpy(audio_input_ids),
            "audio_input_ids_mask": torch.from_numpy(audio_mask),
            "audio_labels": torch.from_numpy(audio_labels),
            "sample_meta": [
                {"sample_id": e.sample_id, "speaker": e.speaker, "language": e.language} for e in examples
            ],
        }
