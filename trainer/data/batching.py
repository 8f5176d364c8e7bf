"""Dataset and collator: prepared examples in, padded model batches out.

Training reads examples from the prepared data set's memmaps (`prepared.PreparedDataSet`), a
slice copy per example, cheap enough for the main process; DataLoader workers
(--dataloader_num_workers) overlap it with the step all the same. The collator right-pads text to the longest
sample and concatenates nothing across samples: each row keeps its own audio frames, padded
with stream EOS and masked out by `audio_input_ids_mask`, which is how the Higgs model
scatters audio embeddings into the audio-token positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, TrainingExample


class VoiceCloningDataset(Dataset):
    """Examples held in memory (tests, small sets); training reads a `PreparedDataSet`."""

    def __init__(self, examples: list[TrainingExample]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> TrainingExample:
        return self.examples[index]

    @property
    def lengths(self) -> list[int]:
        return [len(example.input_ids) for example in self.examples]


class LengthGroupedBatchSampler(LengthGroupedSampler):
    """`--train_sampling_strategy group_by_length` with our token counts: samples are shuffled,
    cut into mega-batches of 50 batches, and sorted by length inside each, so a batch holds
    samples of similar length and pads little. The order is seeded per epoch (seed + epoch, as
    accelerate seeds its random sampler), so every rank draws the same order (accelerate then
    gives each rank its own batches) and a resumed run the same order as an uninterrupted one."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


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
                {"sample_id": e.sample_id, "speaker": e.speaker, "language": e.language,
                 "pair_similarity": e.pair_similarity} for e in examples
            ],
        }
