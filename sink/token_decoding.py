"""Readable token sequences from ids, with the run's own text tokenizer.

Only `tokenizers` is needed (the sink never imports torch or transformers): the checkpoint's
`tokenizer.json` is loaded directly. Runs of one special token are collapsed, audio
placeholders ("<|AUDIO_OUT|> x212") and batch padding ("<|end_of_text|> x676") alike, label
padding (-100) and ids outside the vocabulary are shown as such instead of failing, and every
piece is tagged so a dashboard can colour it. Pieces hold the decoded text as it is, control
characters included: each output escapes them its own way (`sink.printable`). Pieces are
found with NumPy over the whole sequence, so a 2 048-token input costs one Python step per
piece, not per token. `token_regions` cuts an input's first sample at its audio segments for a
dashboard (the input kind's readings).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from stratlog.protocol import TokenizerIdentity, higgs_tokens

#: Tokens that repeat once per audio frame: their runs are tagged "audio" (other special runs "special").
AUDIO_RUN_TOKENS = (higgs_tokens.AUDIO_OUT, higgs_tokens.AUDIO_IN, higgs_tokens.AUDIO_DELAY)
IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenPiece:
    kind: str  # "text" | "special" | "audio" | "ignored" | "unknown"
    text: str


class TokenDecoder:
    def __init__(self, tokenizer: Tokenizer, source: str):
        self.tokenizer = tokenizer
        self.source = source
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self._special = {index: token.content for index, token in tokenizer.get_added_tokens_decoder().items() if token.special}
        self._special_ids = np.array(sorted(self._special), dtype=np.int64)
        self._audio_run_ids = frozenset(i for i, content in self._special.items() if content in AUDIO_RUN_TOKENS)

    @classmethod
    def from_path(cls, path: str | Path) -> "TokenDecoder":
        """`path` is a checkpoint folder holding tokenizer.json, or the file itself."""
        file = Path(path)
        if file.is_dir():
            file = file / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(f"no tokenizer.json at {path}")
        return cls(Tokenizer.from_file(str(file)), str(file))

    @cached_property
    def identity(self) -> TokenizerIdentity:
        """What a run's start says of its tokenizer, for this one: compared once per run."""
        return TokenizerIdentity.of(self.tokenizer)

    @property
    def special_ids(self) -> dict[str, int]:
        """Special token name -> id, for structure checks that look tokens up by name."""
        return {content: index for index, content in self._special.items()}

    def pieces(self, ids) -> list[TokenPiece]:
        tokens = np.asarray(ids, dtype=np.int64).reshape(-1)
        if tokens.size == 0:
            return []
        ignored = tokens == IGNORE_INDEX
        unknown = ~ignored & ((tokens < 0) | (tokens >= self.vocab_size))
        special = np.isin(tokens, self._special_ids)
        text = ~(ignored | unknown | special)
        collapsible = ignored | special
        starts = np.ones(tokens.size, dtype=bool)
        starts[1:] = (text[1:] != text[:-1]) | (~text[1:] & ((tokens[1:] != tokens[:-1]) | ~collapsible[1:]))
        edges = np.flatnonzero(starts).tolist() + [tokens.size]
        pieces = []
        for start, end in zip(edges[:-1], edges[1:]):
            token, count = int(tokens[start]), end - start
            times = f" x{count}" if count > 1 else ""
            if text[start]:
                pieces.append(TokenPiece("text", self.tokenizer.decode(tokens[start:end].tolist(), skip_special_tokens=False)))
            elif ignored[start]:
                pieces.append(TokenPiece("ignored", f"<-100>{times}"))
            elif unknown[start]:
                pieces.append(TokenPiece("unknown", f"<unknown id {token}>"))
            else:
                kind = "audio" if token in self._audio_run_ids else "special"
                pieces.append(TokenPiece(kind, f"{self._special[token]}{times}"))
        return pieces

    def render(self, ids) -> str:
        return "".join(piece.text for piece in self.pieces(ids))


@dataclass(frozen=True)
class TokenRegion:
    """A stretch of the decoded input: `role` is "reference" or "target" for an audio segment
    of the first sample, "" for the text around them."""

    role: str
    pieces: tuple[TokenPiece, ...]


def token_regions(message, context) -> tuple[TokenRegion, ...]:
    """An input snapshot's first sample cut at its audio segments, each stretch decoded with the
    run's tokenizer (`context.decoder`; ids shown raw without one): what a dashboard shows of it."""
    ids = message.input_ids.to_numpy().reshape(-1)
    bounds = sorted((s.start, s.end, s.role) for s in message.segments if s.sample == 0 and s.start < s.end)
    regions, position = [], 0
    for start, end, role in bounds:
        start, end = max(start, position), min(end, len(ids))
        if start >= end:
            continue
        regions += [("", ids[position:start]), (role, ids[start:end])]
        position = end
    regions.append(("", ids[position:]))
    return tuple(TokenRegion(role, tuple(_pieces(context.decoder, part))) for role, part in regions if len(part))


def _pieces(decoder: TokenDecoder | None, ids: np.ndarray) -> list[TokenPiece]:
    if decoder is None:
        return [TokenPiece("unknown", " ".join(map(str, ids.tolist())) + " ")]
    return decoder.pieces(ids)


class DecoderCache:
    """One decoder per tokenizer path; a path that cannot be loaded is reported once and
    remembered as None, so a bad tokenizer never stops the sink nor slows every message."""

    def __init__(self, override: str | None = None):
        self.override = override
        self._decoders: dict[str, TokenDecoder | None] = {}

    def get(self, run_tokenizer_path: str | None) -> TokenDecoder | None:
        path = self.override or run_tokenizer_path
        if not path:
            return None
        if path not in self._decoders:
            try:
                self._decoders[path] = TokenDecoder.from_path(path)
            except Exception as error:  # noqa: BLE001 - a bad tokenizer must not stop the sink
                print(f"[sink] cannot load tokenizer from {path}: {error}", file=sys.stderr)
                self._decoders[path] = None
        return self._decoders[path]
