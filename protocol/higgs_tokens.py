"""The names of Higgs Audio v2's special text tokens: what the trainer writes into sequences and
the sink looks up in the run's own tokenizer.

Both sides need the same names and share nothing but the protocol, so they live here. Only names:
ids differ between tokenizers, and each side asks its tokenizer for them.
"""

from __future__ import annotations

BEGIN_OF_TEXT = "<|begin_of_text|>"
END_OF_TEXT = "<|end_of_text|>"
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
END_OF_TURN = "<|eot_id|>"
AUDIO_IN = "<|AUDIO|>"
"""One per codec frame of audio given as input (the reference clip)."""
AUDIO_IN_BOS = "<|audio_bos|>"
AUDIO_OUT = "<|AUDIO_OUT|>"
"""One per codec frame of generated (assistant) audio."""
AUDIO_OUT_BOS = "<|audio_out_bos|>"
AUDIO_EOS = "<|audio_eos|>"
SCENE_DESCRIPTION_START = "<|scene_desc_start|>"
SCENE_DESCRIPTION_END = "<|scene_desc_end|>"
RESERVED = tuple(f"<|reserved_special_token_{index}|>" for index in range(8))
AUDIO_DELAY = RESERVED[6]
"""Fills the delay-pattern positions of an audio segment; the Higgs processor's default name for it."""

SPECIAL_TOKENS: tuple[str, ...] = (
    BEGIN_OF_TEXT,
    END_OF_TEXT,
    START_HEADER,
    END_HEADER,
    END_OF_TURN,
    AUDIO_IN,
    AUDIO_IN_BOS,
    AUDIO_OUT,
    AUDIO_OUT_BOS,
    AUDIO_EOS,
    SCENE_DESCRIPTION_START,
    SCENE_DESCRIPTION_END,
    *RESERVED,
)
"""Every Higgs special token, in the order the embedded tokenizer gives them ids 0..20."""
