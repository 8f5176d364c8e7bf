"""Readable token sequences from ids, with the run's own text tokenizer.

Only `tokenizers` is needed (the sink never imports torch or transformers): the checkpoint's
`tokenizer.json` is loaded directly. Runs of one special token are collapsed, audio
placeholders ("<|AUDIO_OUT|> x212") and batch padding ("<|end_of_text|> x676") alike, label
padding (-100) and ids outside the vocabulary are shown as such instead of failing, and every
piece is tagged so a dashboard can colour it. Pieces hold the decoded text as it is, control
characters included: each output escapes them its own way (`sink.printable`). Pieces are
found with NumPy over the whole sequence, so a 2 048-token input costs one Python step per
piece, not per token. A byte-level tokenizer's text (GPT-2, Llama 3, the Higgs checkpoints) is
decoded the same way: every id's bytes are looked up in one table made when the tokenizer is
loaded, and each piece is its slice of the joined bytes read as UTF-8, which is what the
tokenizer's own decode does (`ByteLevelText`: one sink decodes the inputs of 2 048 ranks, and
the tokenizer's decode costs ~0.3 us a token). The human log needs only the joined text
(`render`): it takes every id's piece from one table and reads all the bytes at once
(`RenderTable`), no Python step per piece (a short sequence: one per id, cheaper there).
`token_regions` cuts an input's first sample at its audio segments for a dashboard (the input
kind's readings).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tokenizers import Tokenizer, decoders

from stratlog.protocol import TokenizerIdentity, higgs_tokens
from stratlog.sink.printable import Escapes, escaped

#: Tokens that repeat once per audio frame: their runs are tagged "audio" (other special runs "special").
AUDIO_RUN_TOKENS = (higgs_tokens.AUDIO_OUT, higgs_tokens.AUDIO_IN, higgs_tokens.AUDIO_DELAY)
IGNORE_INDEX = -100
BYTE_TABLE_FROM = 128
"""Text tokens from which `pieces` decodes with the byte table rather than the tokenizer (its
NumPy steps cost ~15 us whatever the length; the tokenizer ~0.12 us a token). `render` takes the
render table at any length: a 20-token target costs ~3 us there, ~20 us through the pieces."""


class TokenPiece(NamedTuple):
    """A tuple, not a dataclass: an input has a hundred pieces or more, made per snapshot."""

    kind: str  # "text" | "special" | "audio" | "ignored" | "unknown"
    text: str


def _byte_of_character() -> dict[str, int]:
    """The byte-level alphabet: each of the 256 bytes is spelled as one printable character in a
    byte-level vocabulary (GPT-2's `bytes_to_unicode`, which `tokenizers` uses too)."""
    printable_bytes = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable_bytes]
    return {**{chr(byte): byte for byte in printable_bytes}, **{chr(256 + n): byte for n, byte in enumerate(others)}}


class ByteLevelText:
    """Text pieces of a byte-level tokenizer decoded without it: the bytes of every vocabulary id
    as one `bytes` object in an object array, so the bytes of many ids are one `take` and one
    join, read as UTF-8 (invalid bytes replaced), as `tokenizers`' ByteLevel decoder joins the
    tokens' bytes and reads them lossily. Added tokens are left to the tokenizer (`covered` is
    False for them; their entry is None)."""

    def __init__(self, tokenizer: Tokenizer, vocab_size: int):
        byte_of = _byte_of_character()
        added = tokenizer.get_added_tokens_decoder()
        self.bytes_of = np.full(vocab_size, None, dtype=object)
        """Id -> its bytes (None: an added token or a gap in the vocabulary)."""
        for index in range(vocab_size):
            token = tokenizer.id_to_token(index)
            if token is None or index in added:
                continue
            try:
                self.bytes_of[index] = bytes(byte_of[character] for character in token)
            except KeyError:  # a token outside the alphabet is its own UTF-8 (the ByteLevel decoder's rule)
                self.bytes_of[index] = token.encode("utf-8")
        self._lengths = np.array([-1 if data is None else len(data) for data in self.bytes_of.tolist()], dtype=np.int64)

    @classmethod
    def of(cls, tokenizer: Tokenizer, vocab_size: int) -> ByteLevelText | None:
        """The fast decoder when `tokenizer` decodes with ByteLevel alone and agrees with it on a
        sample of its vocabulary; None otherwise (the tokenizer's own decode is used)."""
        if not isinstance(tokenizer.decoder, decoders.ByteLevel) or vocab_size == 0:
            return None
        fast = cls(tokenizer, vocab_size)
        sample = np.random.default_rng(0).integers(0, vocab_size, (64, 32))
        for ids in sample:
            ids = ids[fast._lengths[ids] >= 0].tolist()
            if fast.decode(np.asarray(ids, dtype=np.int64)) != tokenizer.decode(ids, skip_special_tokens=False):
                return None
        return fast

    def covered(self, tokens: np.ndarray) -> np.ndarray:
        """Which in-vocabulary ids this table decodes (all but added tokens)."""
        return self._lengths[tokens] >= 0

    def joined(self, tokens: np.ndarray, keep: np.ndarray) -> tuple[bytes, np.ndarray]:
        """The bytes of the in-vocabulary `tokens` where `keep`, in order, and where each token's
        bytes start in them (one more entry: the end); other tokens and added ones add no bytes."""
        lengths = self._lengths[tokens]
        keep = keep & (lengths >= 0)
        return b"".join(self.bytes_of.take(tokens[keep]).tolist()), np.concatenate(([0], np.cumsum(lengths * keep)))

    def decode(self, tokens: np.ndarray) -> str:
        return self.joined(tokens, np.ones(tokens.size, dtype=bool))[0].decode("utf-8", "replace")


class RenderTable:
    """A whole sequence's text in one step, for the human log (`TokenDecoder.render`): the bytes of
    every id's piece (its text, a special token's name, "<-100>") in one object array, taken for
    all ids at once (but the repeats of a run; a short sequence id by id), joined and read as
    UTF-8 once. The few ids that need more (a run's " xN", an unknown id's number) are patched in
    place.

    Reading the joined bytes once gives the text of reading each piece alone: every piece between
    two texts is a whole UTF-8 text of its own, so it starts with no continuation byte (a broken
    sequence at a text's end is cut there, as at the end of its own bytes) and ends with none
    left open (a text's stray continuation bytes are replaced one by one, as at its start).

    Escapes of ASCII characters (`printable.Escapes`: the log's newlines, its one-byte controls)
    are made in each piece's bytes, once per table: an ASCII byte is that character wherever it
    stands in UTF-8, and a whole UTF-8 text put in its place changes no other character's reading
    (the argument above), so the text is that of escaping the decoded text, at no cost per id."""

    TEXT, RUN, UNKNOWN, UNCOVERED = range(4)
    """What an id is: a text token, a special token or -100 (their runs are collapsed), an id
    outside the vocabulary, an added token that is not special (left to the tokenizer)."""
    ROOM = -IGNORE_INDEX + 1
    """Negative ids kept apart from each other in the table: -100 among them, read from its end."""
    ONE_BY_ONE = 64
    """Sequences up to this long are rendered id by id in Python (an output's 20-token texts)."""

    def __init__(self, text: ByteLevelText, special: dict[int, str], vocab_size: int):
        size = vocab_size + 1 + self.ROOM  # ids, then one slot for all ids past the vocabulary, then the negative ones
        labels = np.full(size, None, dtype=object)
        labels[:vocab_size] = text.bytes_of
        self.kinds = np.full(size, self.UNKNOWN, dtype=np.int8)
        self.kinds[:vocab_size] = np.where(text.covered(np.arange(vocab_size)), self.TEXT, self.UNCOVERED)
        for index, content in special.items():
            labels[index], self.kinds[index] = content.encode("utf-8"), self.RUN
        labels[IGNORE_INDEX], self.kinds[IGNORE_INDEX] = b"<-100>", self.RUN
        self.vocab_size = vocab_size
        self._kind_of = self.kinds.tolist()
        self._labels: dict[Escapes, tuple[np.ndarray, list]] = {(): (labels, labels.tolist())}
        """Escapes -> each id's escaped bytes, as an array (taken at once) and a list (one by one)."""

    @classmethod
    def of(cls, text: ByteLevelText | None, special: dict[int, str], vocab_size: int) -> RenderTable | None:
        """None (pieces are decoded one by one) without a byte table, or where a special token
        is outside the vocabulary or empty (a piece that would not keep two texts apart)."""
        if text is None or any(index >= vocab_size or not content for index, content in special.items()):
            return None
        return cls(text, special, vocab_size)

    def render(self, tokens: np.ndarray, escapes: Escapes = ()) -> str | None:
        """The text of `tokens` (int64, one dimension) with `escapes` made; None when an added token
        that is not special is among them (the caller asks the tokenizer)."""
        if tokens.size <= self.ONE_BY_ONE:
            data = self._bytes_one_by_one(tokens.tolist(), escapes)
        else:
            data = self._bytes_at_once(tokens, escapes)
        return None if data is None else data.decode("utf-8", "replace")

    def _labels_escaped(self, escapes: Escapes) -> tuple[np.ndarray, list]:
        """The table with `escapes` made in every piece; made on first use (a few per run)."""
        if escapes not in self._labels:
            labels = self._labels[()][0].copy()
            characters = bytes(ord(character.encode("ascii")) for character, _ in escapes)
            for index, label in enumerate(labels.tolist()):
                if label is not None and len(label.translate(None, characters)) != len(label):
                    labels[index] = _escaped_bytes(label, escapes)
            self._labels[escapes] = labels, labels.tolist()
        return self._labels[escapes]

    def _bytes_at_once(self, tokens: np.ndarray, escapes: Escapes) -> bytes | None:
        slots = np.minimum(np.maximum(tokens, -self.ROOM), self.vocab_size)
        kinds = self.kinds.take(slots)
        top = kinds.max(initial=self.TEXT)
        repeats = np.flatnonzero((tokens[1:] == tokens[:-1]) & (kinds[1:] == self.RUN)) if top >= self.RUN else []
        runs = []
        if len(repeats):  # id i + 1 repeats id i for each i in repeats: a run is a stretch of consecutive i
            breaks = np.flatnonzero(np.diff(repeats) != 1)
            firsts, lasts = repeats[np.concatenate(([0], breaks + 1))], repeats[np.append(breaks, -1)]
            kept = np.ones(tokens.size, dtype=bool)
            kept[repeats + 1] = False
            runs = zip((np.cumsum(kept)[firsts] - 1).tolist(), (lasts - firsts + 2).tolist())
            tokens, slots, kinds = tokens[kept], slots[kept], kinds[kept]
        labels = self._labels_escaped(escapes)[0].take(slots)
        if top > self.RUN:
            if (kinds == self.UNCOVERED).any():
                return None
            for position in np.flatnonzero(kinds == self.UNKNOWN).tolist():
                labels[position] = _escaped_bytes(f"<unknown id {int(tokens[position])}>".encode("utf-8"), escapes)
        for position, length in runs:
            labels[position] += _escaped_bytes(b" x%d" % length, escapes)
        return b"".join(labels.tolist())

    def _bytes_one_by_one(self, tokens: list[int], escapes: Escapes) -> bytes | None:
        """`_bytes_at_once` for a short sequence, one Python step per id (its ~12 NumPy steps cost
        more than 64 of these; tests/sink/test_token_decoding.py checks both ways)."""
        parts, run_token, run_length = [], None, 0
        kind_of, label_of = self._kind_of, self._labels_escaped(escapes)[1]
        lowest, highest = -self.ROOM, self.vocab_size
        for token in tokens:
            slot = lowest if token < lowest else highest if token > highest else token
            kind = kind_of[slot]
            if token == run_token:  # only a run's token is kept as run_token
                run_length += 1
                continue
            if run_length > 1:
                parts[-1] += _escaped_bytes(b" x%d" % run_length, escapes)
            if kind == self.TEXT:
                parts.append(label_of[slot])
                run_token, run_length = None, 0
            elif kind == self.RUN:
                parts.append(label_of[slot])
                run_token, run_length = token, 1
            elif kind == self.UNKNOWN:
                parts.append(_escaped_bytes(f"<unknown id {token}>".encode("utf-8"), escapes))
                run_token, run_length = None, 0
            else:
                return None
        if run_length > 1:
            parts[-1] += _escaped_bytes(b" x%d" % run_length, escapes)
        return b"".join(parts)


def _escaped_bytes(data: bytes, escapes: Escapes) -> bytes:
    """`printable.escaped` on UTF-8 bytes (its characters are ASCII)."""
    for character, escape in escapes:
        data = data.replace(character.encode("ascii"), escape.encode("utf-8"))
    return data


class TokenDecoder:
    def __init__(self, tokenizer: Tokenizer, source: str):
        self.tokenizer = tokenizer
        self.source = source
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self._special = {index: token.content for index, token in tokenizer.get_added_tokens_decoder().items() if token.special}
        self._is_special = np.zeros(max([self.vocab_size - 1, *self._special]) + 1, dtype=bool)
        """Id -> whether it is a special token: one lookup per id (np.isin sorts, ~10x slower)."""
        self._is_special[list(self._special)] = True
        self._audio_run_ids = frozenset(i for i, content in self._special.items() if content in AUDIO_RUN_TOKENS)
        self._byte_level = ByteLevelText.of(tokenizer, self.vocab_size)
        """None: text is decoded by the tokenizer, piece by piece."""
        self._render_table = RenderTable.of(self._byte_level, self._special, self.vocab_size)

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
        return list(map(TokenPiece._make, self._kinds_and_texts(ids)))

    def render(self, ids, escapes: Escapes = ()) -> str:
        """The pieces' texts joined, with `escapes` made (`printable.escaped`): with the render
        table when there is one (its text is checked against the pieces' in
        tests/sink/test_token_decoding.py)."""
        tokens = np.asarray(ids, dtype=np.int64).reshape(-1)
        text = self._render_table.render(tokens, escapes) if self._render_table is not None else None
        if text is None:
            text = escaped("".join(piece for _, piece in self._kinds_and_texts(tokens)), escapes)
        return text

    def _kinds_and_texts(self, ids) -> list[tuple[str, str]]:
        """(kind, text) of each piece: plain tuples, as `render` needs only the texts."""
        tokens = np.asarray(ids, dtype=np.int64).reshape(-1)
        if tokens.size == 0:
            return []
        ignored = tokens == IGNORE_INDEX
        unknown = ~ignored & ((tokens < 0) | (tokens >= self.vocab_size))
        inside = (tokens >= 0) & (tokens < self._is_special.size)
        special = self._is_special[np.where(inside, tokens, 0)] & inside
        text = ~(ignored | unknown | special)
        collapsible = ignored | special
        starts = np.ones(tokens.size, dtype=bool)
        starts[1:] = (text[1:] != text[:-1]) | (~text[1:] & ((tokens[1:] != tokens[:-1]) | ~collapsible[1:]))
        edges = np.flatnonzero(starts)
        ends = np.append(edges[1:], tokens.size)
        is_text = text[edges]
        texts = iter(self._texts(tokens, text, edges[is_text], ends[is_text]))
        pieces = []
        for start, end, token, in_text, is_ignored, is_unknown in zip(
                edges.tolist(), ends.tolist(), tokens[edges].tolist(), is_text.tolist(), ignored[edges].tolist(),
                unknown[edges].tolist()):
            times = f" x{end - start}" if end - start > 1 else ""
            if in_text:
                pieces.append(("text", next(texts)))
            elif is_ignored:
                pieces.append(("ignored", f"<-100>{times}"))
            elif is_unknown:
                pieces.append(("unknown", f"<unknown id {token}>"))
            else:
                pieces.append(("audio" if token in self._audio_run_ids else "special", f"{self._special[token]}{times}"))
        return pieces

    def _texts(self, tokens: np.ndarray, text: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
        """The decoded text of each text piece tokens[start:end]."""
        def by_tokenizer(start: int, end: int) -> str:
            return self.tokenizer.decode(tokens[start:end].tolist(), skip_special_tokens=False)

        if self._byte_level is None or (ends - starts).sum() < BYTE_TABLE_FROM:
            return [by_tokenizer(start, end) for start, end in zip(starts.tolist(), ends.tolist())]
        in_text = np.where(text, tokens, 0)  # every id a valid index; the others are not joined
        data, bounds = self._byte_level.joined(in_text, text)
        uncovered = np.concatenate(([0], np.cumsum(text & ~self._byte_level.covered(in_text))))
        whole = (uncovered[ends] == uncovered[starts]).tolist()
        return [data[first:last].decode("utf-8", "replace") if covered else by_tokenizer(start, end)
                for start, end, first, last, covered in zip(starts.tolist(), ends.tolist(), bounds[starts].tolist(),
                                                            bounds[ends].tolist(), whole)]


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
