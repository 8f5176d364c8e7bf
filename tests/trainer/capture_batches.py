"""A fixed two-speaker batch for the capture tests, and the direct computations they check against.

The two samples (speakers spk0 / spk1, languages en / es) have different reference and target
lengths, so padding, the delay pattern's masked corners and clips of different sizes are all
present. Codec codes are drawn from a seeded generator: any codes would do, but the numbers
every test compares must not change between runs.

The direct computations do not use the model's own gathering (`HiggsVoiceCloningModel.forward`)
nor `trainer.loss`: they apply the heads to every position of the decoder's hidden states and
line the labels up from the token ids themselves, so a mistake shared by the model's gathering,
the loss and the capture code cannot cancel out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stratlog.trainer.data.batching import VoiceCloningCollator
from stratlog.trainer.data.samples import VoiceCloningSample
from stratlog.trainer.data.sequences import IGNORE_INDEX, AudioTokenIds, SequenceBuilder, TrainingExample

CLIP_FRAMES = [(30, 40), (20, 25)]
"""(reference, target) codec frames of sample 0 and sample 1."""
SPEAKERS, LANGUAGES = ["spk0", "spk1"], ["en", "es"]


@dataclass
class TwoSpeakerBatch:
    builder: SequenceBuilder
    samples: list[VoiceCloningSample]
    codes: list[tuple[np.ndarray, np.ndarray]]
    """Per sample, its (reference, target) codes [codebooks, frames]."""
    examples: list[TrainingExample]

    @property
    def ids(self) -> AudioTokenIds:
        return self.builder.ids

    def batch(self, order: list[int] | None = None) -> dict:
        """The collated batch (samples in `order`, default 0, 1), sample_meta included."""
        return VoiceCloningCollator(self.ids)([self.examples[i] for i in (order or range(len(self.examples)))])

    def with_reference_of(self, sample: int, donor: int) -> TrainingExample:
        """Sample `sample` built again from scratch with the donor's reference codes (its own
        transcripts and target): what a reference swap must feed the model."""
        return self.builder.build(self.samples[sample], self.codes[donor][0], self.codes[sample][1])


def two_speaker_batch(demo_assets, *, label_all_text: bool = False) -> TwoSpeakerBatch:
    """`label_all_text`: every text token a label (the builder's earlier rule), for a test that
    needs more text labels than the original recipe's three per sample."""
    from transformers import AutoConfig, AutoTokenizer

    ids = AudioTokenIds.from_config(AutoConfig.from_pretrained(demo_assets.model_dir))
    builder = SequenceBuilder(AutoTokenizer.from_pretrained(demo_assets.model_dir), ids, label_all_text=label_all_text)
    rng = np.random.default_rng(23)
    samples, codes, examples = [], [], []
    for index, (reference_frames, target_frames) in enumerate(CLIP_FRAMES):
        sample = VoiceCloningSample(f"s{index}", SPEAKERS[index], LANGUAGES[index], "Speak.",
                                    f"reference line {index}", None, f"the words of sample {index}", None)
        pair = (rng.integers(0, 1024, (8, reference_frames)), rng.integers(0, 1024, (8, target_frames)))
        samples.append(sample)
        codes.append(pair)
        examples.append(builder.build(sample, *pair))
    return TwoSpeakerBatch(builder, samples, codes, examples)


def audio_positions(input_ids: np.ndarray, valid_length: int, ids: AudioTokenIds) -> np.ndarray:
    """Positions of one sample's audio placeholder and delay tokens, in order: row r of the
    sample's audio frames is embedded at position r of this list."""
    valid = input_ids[:valid_length]
    return np.flatnonzero((valid == ids.audio_token) | (valid == ids.audio_delay_token))


@dataclass
class DirectOutput:
    """Heads applied at every position; targets lined up by hand (position p predicts p + 1)."""

    text_logits: torch.Tensor  # [batch, length - 1, vocab]
    text_targets: torch.Tensor  # [batch, length - 1]
    audio_logits: torch.Tensor  # [batch, length - 1, codebooks, codebook_size]
    audio_targets: torch.Tensor  # [batch, length - 1, codebooks], IGNORE_INDEX where masked


@torch.no_grad()
def direct_output(model, batch: dict, audio_labels: torch.Tensor | None = None) -> DirectOutput:
    """`audio_labels` replaces the batch's (same shape) to line up other targets on the same forward."""
    ids = AudioTokenIds.from_config(model.config)
    hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         audio_input_ids=batch["audio_input_ids"],
                         audio_input_ids_mask=batch["audio_input_ids_mask"]).last_hidden_state
    size, length = batch["input_ids"].shape
    codebooks = model.config.num_codebooks
    frame_labels = (batch["audio_labels"] if audio_labels is None else audio_labels).numpy()
    sequence_labels = np.full((size, length, codebooks), IGNORE_INDEX, dtype=np.int64)
    for b in range(size):
        positions = audio_positions(batch["input_ids"][b].numpy(), int(batch["attention_mask"][b].sum()), ids)
        rows = frame_labels[b][batch["audio_input_ids_mask"][b].numpy()]
        assert len(positions) == len(rows)
        sequence_labels[b, positions] = rows
    audio_logits = model.audio_lm_head(hidden[:, :-1]).float()
    return DirectOutput(
        text_logits=model.text_lm_head(hidden[:, :-1]).float(),
        text_targets=batch["labels"][:, 1:],
        audio_logits=audio_logits.view(size, length - 1, codebooks, -1),
        audio_targets=torch.from_numpy(sequence_labels[:, 1:]),
    )


def mean_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean over the entries whose target is not IGNORE_INDEX (logits [..., classes])."""
    valid = targets != IGNORE_INDEX
    return float(F.cross_entropy(logits[valid], targets[valid], reduction="mean"))


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of the unmasked entries whose argmax is the target."""
    valid = targets != IGNORE_INDEX
    return float((logits[valid].argmax(-1) == targets[valid]).float().mean())


def target_audio_loss(direct: DirectOutput, sample: int) -> float:
    """One sample's mean cross-entropy over its labelled (frame, codebook) entries."""
    return mean_cross_entropy(direct.audio_logits[sample], direct.audio_targets[sample])
