"""One training example: the Higgs chat-template sequence for a zero-shot cloning sample.

The conversation is system / user reference transcript / assistant reference audio / user
target transcript / assistant target audio, rendered by the checkpoint's own chat template.
Each audio placeholder is then expanded the way `HiggsAudioV2Processor` does it: a clip of T
codec frames becomes T + 2 audio tokens (stream BOS and EOS) plus num_codebooks - 1 delay
tokens, and its codes get the multi-codebook delay pattern.

Labels follow the original Higgs recipe (boson-ai/higgs-audio: `prepare_chatml_sample` and its
sample collator), not the processor's `output_labels=True` (see the notes):
- text: only the content of trained assistant turns and their `<|eot_id|>` (here
  `<|audio_out_bos|>`, `<|audio_eos|>`, `<|eot_id|>` around the audio); system prompt, headers and
  transcripts are context. The target turn is always trained, the reference turn only when the
  sample's start_index says so (`VoiceCloningSample.label_reference_turn`). Audio placeholders,
  delay tokens and padding are never text labels. `label_all_text` restores the earlier rule
  (every text token but those and `<|audio_out_bos|>`), for comparison with older runs.
- audio: the target clip's codes and one stream EOS per codebook (the model must learn to stop);
  the stream BOS and the delay padding after each codebook's EOS are masked, so no trivially
  predictable label dilutes a codebook's loss. The reference clip is conditioning, never a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratlog.trainer.data.samples import SampleError, VoiceCloningSample

IGNORE_INDEX = -100


def audio_vocabulary(codec_size: int) -> dict[str, int]:
    """The model config's audio vocabulary for a codec of `codec_size` codes: the codes, then the
    audio stream BOS (= codec_size) and EOS (= codec_size + 1), which live in the same embedding
    and head (so codebook_size = codec size + 2)."""
    return {"codebook_size": codec_size + 2, "audio_stream_bos_id": codec_size, "audio_stream_eos_id": codec_size + 1}


@dataclass(frozen=True)
class AudioTokenIds:
    """The token ids a Higgs checkpoint uses around audio, read from its config."""

    audio_token: int
    audio_bos_token: int
    audio_delay_token: int
    pad_token: int
    stream_bos: int
    stream_eos: int
    num_codebooks: int

    @classmethod
    def from_config(cls, config) -> "AudioTokenIds":
        return cls(
            audio_token=config.audio_token_id,
            audio_bos_token=config.audio_bos_token_id,
            audio_delay_token=config.audio_delay_token_id,
            pad_token=config.pad_token_id,
            stream_bos=config.audio_stream_bos_id,
            stream_eos=config.audio_stream_eos_id,
            num_codebooks=config.num_codebooks,
        )


@dataclass
class TrainingExample:
    """Token ids and labels of one sample; audio arrays are [audio_positions, num_codebooks]."""

    input_ids: np.ndarray
    labels: np.ndarray
    audio_input_ids: np.ndarray
    audio_labels: np.ndarray
    sample_id: str
    speaker: str
    language: str
    pair_similarity: float = -1.0
    """The pair check's score of the sample's reference against its target (trainer/data/pair_checks.py)."""


def delay_pattern(codes: np.ndarray, ids: AudioTokenIds) -> np.ndarray:
    """[num_codebooks, T] codes -> [T + 2 + num_codebooks - 1, num_codebooks] delayed frames.

    Codebook k is shifted right by k steps: k extra BOS before its stream BOS, and
    num_codebooks - 1 - k extra EOS after its stream EOS.
    """
    num_codebooks, frames = codes.shape
    length = frames + 2 + num_codebooks - 1
    delayed = np.empty((num_codebooks, length), dtype=np.int64)
    for k in range(num_codebooks):
        delayed[k, : k + 1] = ids.stream_bos
        delayed[k, k + 1 : k + 1 + frames] = codes[k]
        delayed[k, k + 1 + frames :] = ids.stream_eos
    return delayed.T


def conversation_for(sample: VoiceCloningSample) -> list[dict]:
    """The 5-turn zero-shot conversation. Audio items are placeholders the template renders; each
    names its clip, and each assistant turn says whether it is trained (templates ignore the extra
    keys), so the conversation alone says which codes go where and which turns are labelled."""
    return [
        {"role": "system", "content": sample.system_prompt},
        {"role": "user", "content": sample.ref_text},
        {"role": "assistant", "content": [{"type": "audio", "clip": "reference"}], "trained": sample.label_reference_turn},
        {"role": "user", "content": sample.target_text},
        {"role": "assistant", "content": [{"type": "audio", "clip": "target"}], "trained": True},
    ]


def audio_clips_of(conversation: list[dict]) -> list[str]:
    """The clip names of the conversation's audio items, in the order the template renders them."""
    return [item["clip"] for turn in conversation if isinstance(turn["content"], list)
            for item in turn["content"] if item["type"] == "audio"]


class SequenceBuilder:
    """Turns a sample and its two clips' codes into a `TrainingExample`. `label_all_text`: the
    earlier text-label rule (every text token), kept for comparison with runs made with it."""

    def __init__(self, tokenizer, ids: AudioTokenIds, *, label_all_text: bool = False, max_length: int | None = None):
        self.tokenizer = tokenizer
        self.ids = ids
        self.max_length = max_length
        """The model's max_position_embeddings: a longer sequence is a bad sample, not a crash (or
        silently extrapolated rotary positions) at its first step."""
        self.label_all_text = label_all_text
        self._never_text = {ids.audio_token, ids.audio_delay_token, ids.pad_token}
        if label_all_text:
            self._never_text.add(ids.audio_bos_token)

    def build(self, sample: VoiceCloningSample, ref_codes: np.ndarray, target_codes: np.ndarray) -> TrainingExample:
        conversation = conversation_for(sample)
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False)
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=not self.label_all_text)
        template_ids = encoded["input_ids"]
        trained = (np.ones(len(template_ids), dtype=bool) if self.label_all_text
                   else self._trained_tokens(conversation, text, encoded["offset_mapping"], sample.sample_id))
        placeholders = [i for i, token in enumerate(template_ids) if token == self.ids.audio_token]
        # (codes, is_target): the reference is conditioning, only the target is trained
        codes_of = {"reference": (ref_codes, False), "target": (target_codes, True)}
        clips = [codes_of[name] for name in audio_clips_of(conversation)]
        if len(placeholders) != len(clips):
            raise ValueError(
                f"chat template rendered {len(placeholders)} audio placeholders for sample "
                f"{sample.sample_id!r}, expected {len(clips)} (one per audio item of the conversation)"
            )
        input_ids: list[int] = []
        labels: list[int] = []
        audio_frames: list[np.ndarray] = []
        audio_labels: list[np.ndarray] = []
        cursor = 0
        # the text up to each placeholder, then its clip; the extra last entry takes the text after the last clip
        for placeholder, (codes, is_target) in zip(placeholders + [len(template_ids)], clips + [(None, False)]):
            for index in range(cursor, placeholder):
                input_ids.append(template_ids[index])
                labels.append(self._text_label(template_ids[index], trained[index]))
            if codes is None:
                break
            frames = delay_pattern(codes.astype(np.int64), self.ids)
            audio_count = len(frames) - (self.ids.num_codebooks - 1)
            input_ids.extend([self.ids.audio_token] * audio_count + [self.ids.audio_delay_token] * (self.ids.num_codebooks - 1))
            labels.extend([IGNORE_INDEX] * len(frames))
            audio_frames.append(frames)
            audio_labels.append(self._audio_labels(frames) if is_target else np.full_like(frames, IGNORE_INDEX))
            cursor = placeholder + 1
        if self.max_length is not None and len(input_ids) > self.max_length:
            raise SampleError(sample.sample_id, sample.target_audio,
                              f"sequence of {len(input_ids)} tokens is longer than the model's max_position_embeddings "
                              f"({self.max_length}); shorten the clips (--max_audio_seconds) or the transcripts")
        return TrainingExample(
            input_ids=np.asarray(input_ids, dtype=np.int64),
            labels=np.asarray(labels, dtype=np.int64),
            audio_input_ids=np.concatenate(audio_frames),
            audio_labels=np.concatenate(audio_labels),
            sample_id=sample.sample_id,
            speaker=sample.speaker,
            language=sample.language,
        )

    def _trained_tokens(self, conversation: list[dict], text: str, offsets: list[tuple[int, int]], sample_id: str) -> np.ndarray:
        """Per template token: does it belong to a trained assistant turn's content or its end of
        turn? The checkpoint's own template says where a turn's content starts (its generation
        prompt ends there) and where the turn ends (the next prefix's rendering), as characters of
        `text`; the tokenizer's offsets map them to tokens."""
        starts = np.array([start for start, _ in offsets])
        trained = np.zeros(len(offsets), dtype=bool)
        for turn, message in enumerate(conversation):
            if message["role"] != "assistant" or not message.get("trained"):
                continue
            prompt = self.tokenizer.apply_chat_template(conversation[:turn], tokenize=False, add_generation_prompt=True)
            through = self.tokenizer.apply_chat_template(conversation[: turn + 1], tokenize=False)
            if not (through.startswith(prompt) and text.startswith(through)):
                raise ValueError(f"sample {sample_id!r}: the chat template does not render turns as prefixes of the "
                                 "conversation; cannot tell which tokens are the assistant's")
            trained |= (starts >= len(prompt)) & (starts < len(through))
        return trained

    def _text_label(self, token: int, trained: bool) -> int:
        return token if trained and token not in self._never_text else IGNORE_INDEX

    def _audio_labels(self, frames: np.ndarray) -> np.ndarray:
        """Target labels: the codes and each codebook's first stream EOS; its stream BOS and the
        delay padding after the EOS are masked (the original collator's delay-pattern labels)."""
        labels = frames.copy()
        eos = labels == self.ids.stream_eos
        padding = eos & (np.cumsum(eos, axis=0) > 1)
        labels[(labels == self.ids.stream_bos) | padding] = IGNORE_INDEX
        return labels
