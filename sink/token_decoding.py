"""Readable token sequences from ids, with the run's own text tokenizer.

Only `tokenizers` is needed (the sink never imports torch or transformers): the checkpoint's
`tokenizer.json` is loaded directly. Runs of audio placeholder tokens are collapsed
("<|AUDIO_OUT|> x212"), label padding (-100) and ids outside the vocabulary are shown as
such instead of failing, and every piece is tagged so a dashboard can colour it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

#: Tokens that repeat once per audio frame; a run of one of them is shown as "TOKEN xN".
AUDIO_RUN_TOKENS = ("<|AUDIO_OUT|>", "<|AUDIO|>", "<|reserved_special_token_6|>")


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
        self._audio_run_ids = {index for index, content in self._special.items() if content in AUDIO_RUN_TOKENS}

    @classmethod
    def from_path(cls, path: str | Path) -> "TokenDecoder":
        """`path` is a checkpoint folder holding tokenizer.json, or the file itself."""
        file = Path(path)
        if file.is_dir():
            file = file / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(f"no tokenizer.json at {path}")
        return cls(Tokenizer.from_file(str(file)), str(file))

    def pieces(self, ids: list[int]) -> list[TokenPiece]:
        pieces: list[TokenPiece] = []
        text_run: list[int] = []

        def flush_text():
            if text_run:
                pieces.append(TokenPiece("text", self.tokenizer.decode(text_run, skip_special_tokens=False)))
                text_run.clear()

        index = 0
        while index < len(ids):
            token = int(ids[index])
            run_end = index + 1
            if token in self._audio_run_ids or token == -100:
                while run_end < len(ids) and int(ids[run_end]) == token:
                    run_end += 1
            count = run_end - index
            if token == -100:
                flush_text()
                pieces.append(TokenPiece("ignored", f"<-100> x{count}" if count > 1 else "<-100>"))
            elif token < 0 or token >= self.vocab_size:
                flush_text()
                pieces.append(TokenPiece("unknown", f"<unknown id {token}>"))
            elif token in self._audio_run_ids:
                flush_text()
                name = self._special[token]
                pieces.append(TokenPiece("audio", f"{name} x{count}" if count > 1 else name))
            elif token in self._special:
                flush_text()
                pieces.append(TokenPiece("special", self._special[token]))
            else:
                text_run.append(token)
            index = run_end
        flush_text()
        return pieces

    def render(self, ids: list[int]) -> str:
        return "".join(piece.text for piece in self.pieces(ids))
