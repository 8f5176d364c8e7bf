"""TokenDecoder: special tokens marked, runs of one special token collapsed, -100 and unknown ids shown.
Run: ./run-tests tests/sink/test_token_decoding.py"""

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from stratlog.sink.token_decoding import BYTE_TABLE_FROM, IGNORE_INDEX, TokenDecoder


def make_decoder() -> TokenDecoder:
    vocab = {"hello": 0, "world": 1, "[UNK]": 2}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(["<|begin_of_text|>", "<|AUDIO_OUT|>", "<|reserved_special_token_6|>", "<|eot_id|>",
                                  "<|end_of_text|>"])
    return TokenDecoder(tokenizer, "test")


def test_audio_runs_collapse_and_specials_stay_visible():
    decoder = make_decoder()
    bos, audio, delay, eot = (decoder.tokenizer.token_to_id(t) for t in
                              ("<|begin_of_text|>", "<|AUDIO_OUT|>", "<|reserved_special_token_6|>", "<|eot_id|>"))
    ids = [bos, 0, 1] + [audio] * 212 + [delay] * 7 + [eot]
    assert decoder.render(ids) == "<|begin_of_text|>hello world<|AUDIO_OUT|> x212<|reserved_special_token_6|> x7<|eot_id|>"
    kinds = [piece.kind for piece in decoder.pieces(ids)]
    assert kinds == ["special", "text", "audio", "audio", "special"]


def test_ignored_and_out_of_vocabulary_ids_do_not_fail():
    decoder = make_decoder()
    assert decoder.render([0, -100, -100, 99999]) == "hello<-100> x2<unknown id 99999>"


def test_padding_runs_collapse_like_audio_runs():
    decoder = make_decoder()
    eot, pad = decoder.tokenizer.token_to_id("<|eot_id|>"), decoder.tokenizer.token_to_id("<|end_of_text|>")
    assert decoder.render([0, eot] + [pad] * 676) == "hello<|eot_id|><|end_of_text|> x676"
    assert [piece.kind for piece in decoder.pieces([pad] * 3)] == ["special"]


FIXTURE_TOKENIZER = Path(__file__).parents[1] / "fixtures" / "demo-tokenizer.json"


def text_runs_by_the_tokenizer(decoder: TokenDecoder, ids: list[int]) -> list[str]:
    """Each run of text ids (in the vocabulary, not special) decoded by the tokenizer itself."""
    special = set(decoder.special_ids.values())
    runs, run = [], []
    for token in ids + [-1]:
        if 0 <= token < decoder.vocab_size and token not in special:
            run.append(token)
        elif run:
            runs.append(decoder.tokenizer.decode(run, skip_special_tokens=False))
            run = []
    return runs


def test_byte_level_text_is_decoded_as_the_tokenizer_decodes_it():
    """The byte table gives the tokenizer's own text: for every id of the vocabulary alone, for
    all of them in one sequence, and for random ids (broken UTF-8 sequences across tokens,
    specials, -100 and unknown ids between them), long enough to be decoded with the table."""
    decoder = TokenDecoder.from_path(FIXTURE_TOKENIZER)
    table = decoder._byte_level
    assert table is not None
    special = set(decoder.special_ids.values())
    for token in range(decoder.vocab_size):
        if token not in special:
            assert table.decode(np.array([token])) == decoder.tokenizer.decode([token], skip_special_tokens=False)
    rng = np.random.default_rng(3)
    sequences = [rng.permutation(decoder.vocab_size).tolist()]
    for _ in range(100):
        ids = rng.integers(-3, decoder.vocab_size + 3, int(rng.integers(BYTE_TABLE_FROM, 4 * BYTE_TABLE_FROM))).tolist()
        sequences.append([IGNORE_INDEX if i < 0 and i % 2 else i for i in ids])
    for ids in sequences:
        texts = [piece.text for piece in decoder.pieces(ids) if piece.kind == "text"]
        assert texts == text_runs_by_the_tokenizer(decoder, ids)


def test_added_tokens_that_are_not_special_are_left_to_the_tokenizer():
    tokenizer = Tokenizer.from_file(str(FIXTURE_TOKENIZER))
    tokenizer.add_tokens(["<plain added>"])
    decoder = TokenDecoder(tokenizer, "test")
    added = tokenizer.token_to_id("<plain added>")
    ids = [5, 6, added, 7]
    assert decoder.render(ids) == tokenizer.decode(ids, skip_special_tokens=False)
    assert "<plain added>" in decoder.render(ids)


def test_a_tokenizer_without_a_byte_level_decoder_gets_no_byte_table():
    assert make_decoder()._byte_level is None
