"""The embedded default's text tokenizer: a byte-level BPE with the Higgs special tokens and chat template.

The real Higgs Audio v2 checkpoint carries a 128k Llama-3 tokenizer that cannot be downloaded here.
This module trains a small byte-level BPE on the demo transcripts instead, adds the same special
tokens the Higgs model and processor look up by name, wraps it in `PreTrainedTokenizerFast` and saves
it with a Llama-3-style chat template, so the demo loads it through `AutoTokenizer.from_pretrained`
exactly like a real checkpoint's tokenizer. Byte-level means every script (Latin, CJK, markup such
as `<SE>[Laughter]</SE>`) encodes without an unknown token.

No BOS is added by a post-processor: the chat template writes `<|begin_of_text|>` itself, and the
Higgs processor tokenizes the rendered template, so a post-processor BOS would appear twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from stratlog.protocol.higgs_tokens import (
    AUDIO_EOS,
    AUDIO_IN,
    AUDIO_IN_BOS,
    AUDIO_OUT,
    AUDIO_OUT_BOS,
    BEGIN_OF_TEXT,
    END_HEADER,
    END_OF_TEXT,
    END_OF_TURN,
    SPECIAL_TOKENS,
    START_HEADER,
)

VOCAB_SIZE = 1536
"""Upper bound for the BPE vocabulary; the small demo corpus may run out of merges below it."""

# Llama-3 header style as used by Higgs. An audio item is a placeholder the processor expands into
# codec-frame tokens: generated audio (assistant turns) uses the AUDIO_OUT family, audio given as
# input uses the AUDIO family. `raise_exception` is provided by transformers' template renderer.
CHAT_TEMPLATE = (
    "{{- '" + BEGIN_OF_TEXT + "' -}}\n"
    "{%- for message in messages -%}\n"
    "{{- '" + START_HEADER + "' + message['role'] + '" + END_HEADER + "\\n\\n' -}}\n"
    "{%- if message['content'] is string -%}\n"
    "{{- message['content'] -}}\n"
    "{%- else -%}\n"
    "{%- for item in message['content'] -%}\n"
    "{%- if item['type'] == 'text' -%}\n"
    "{{- item['text'] -}}\n"
    "{%- elif item['type'] == 'audio' and message['role'] == 'assistant' -%}\n"
    "{{- '" + AUDIO_OUT_BOS + AUDIO_OUT + AUDIO_EOS + "' -}}\n"
    "{%- elif item['type'] == 'audio' -%}\n"
    "{{- '" + AUDIO_IN_BOS + AUDIO_IN + AUDIO_EOS + "' -}}\n"
    "{%- else -%}\n"
    "{{- raise_exception('unsupported content item type: ' ~ item['type']) -}}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- endif -%}\n"
    "{{- '" + END_OF_TURN + "' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '" + START_HEADER + "assistant" + END_HEADER + "\\n\\n' -}}\n"
    "{%- endif -%}\n"
)


def train_text_tokenizer(corpus: Iterable[str], vocab_size: int = VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus` and wrap it as a transformers tokenizer.

    Deterministic for the same corpus in the same order (the BPE trainer breaks count ties by
    pair order), which the demo's byte-identical rebuild relies on.
    """
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),  # first, so they hold ids 0..20 whatever the merges
        # Every byte is in the base alphabet, so text unlike the corpus still encodes.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BEGIN_OF_TEXT,
        eos_token=END_OF_TURN,
        pad_token=END_OF_TEXT,
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t not in (BEGIN_OF_TEXT, END_OF_TURN, END_OF_TEXT)],
        chat_template=CHAT_TEMPLATE,
        model_max_length=1024,
        clean_up_tokenization_spaces=False,
    )

