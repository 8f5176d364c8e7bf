"""TokenDecoder: special tokens marked, runs of one special token collapsed, -100 and unknown ids shown.
Run: ./run-tests tests/sink/test_token_decoding.py"""

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from stratlog.sink.printable import escaped
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


def rendered_by_the_tokenizer(decoder: TokenDecoder, ids: list[int]) -> str:
    """The log's text of `ids` made the slow, plain way: each run of text ids decoded alone by the
    tokenizer, each run of one special id (or -100) its name with its length, each id outside the
    vocabulary its number."""
    names = {index: name for name, index in decoder.special_ids.items()}
    names[IGNORE_INDEX] = "<-100>"
    parts, position = [], 0
    while position < len(ids):
        token, end = ids[position], position + 1
        if token in names:
            while end < len(ids) and ids[end] == token:
                end += 1
            parts.append(names[token] + (f" x{end - position}" if end - position > 1 else ""))
        elif not 0 <= token < decoder.vocab_size:
            parts.append(f"<unknown id {token}>")
        else:
            while end < len(ids) and 0 <= ids[end] < decoder.vocab_size and ids[end] not in names:
                end += 1
            parts.append(decoder.tokenizer.decode(ids[position:end], skip_special_tokens=False))
        position = end
    return "".join(parts)


def adversarial_ids(decoder: TokenDecoder, rng: np.random.Generator, length: int) -> list[int]:
    """Ids that break UTF-8 where a piece ends: tokens of one lead or continuation byte next to
    specials, -100 and unknown ids, in runs and alone, and ordinary text between them."""
    table = decoder._byte_level
    assert table is not None
    single = {index: data[0] for index, data in enumerate(table.bytes_of.tolist())
              if data is not None and len(data) == 1}
    groups = [
        [index for index, byte in single.items() if 0x80 <= byte < 0xC0],  # continuation bytes
        [index for index, byte in single.items() if byte >= 0xC0],  # lead bytes (and bytes never valid)
        [index for index, byte in single.items() if byte < 0x80],  # ASCII, controls among them
        list(range(decoder.vocab_size)),
        list(decoder.special_ids.values()),
        [IGNORE_INDEX, -1, -101, -(2 ** 40), decoder.vocab_size, 2 ** 40],
    ]
    ids = []
    while len(ids) < length:
        group = groups[int(rng.integers(len(groups)))]
        ids += [int(rng.choice(group))] * int(rng.choice([1, 1, 1, 2, 5]))
    return ids[:length]


def test_render_is_the_tokenizers_text_of_each_piece_joined():
    """`render` reads a whole sequence's bytes at once (the render table): the same text as
    decoding every piece on its own with the tokenizer, for short and long sequences of
    adversarial ids (broken UTF-8 at every kind of piece boundary) and of random ones, and the
    same as the pieces' texts joined; and with escapes, the same as escaping that text."""
    decoder = TokenDecoder.from_path(FIXTURE_TOKENIZER)
    assert decoder._render_table is not None
    rng = np.random.default_rng(7)
    sequences = [[], [IGNORE_INDEX], [decoder.vocab_size]]
    for _ in range(300):
        length = int(rng.integers(1, 2 * BYTE_TABLE_FROM))
        sequences.append(adversarial_ids(decoder, rng, length))
        sequences.append(rng.integers(-2, decoder.vocab_size + 2, length).tolist())
    escapes = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("<", "«"))
    for ids in sequences:
        expected = rendered_by_the_tokenizer(decoder, ids)
        assert decoder.render(np.asarray(ids, dtype=np.int64)) == expected
        assert decoder.render(ids) == "".join(piece.text for piece in decoder.pieces(ids)) == expected
        assert decoder.render(ids, escapes) == escaped(expected, escapes)  # made on the bytes, before decoding
        table = decoder._render_table  # short sequences are rendered id by id, long ones with NumPy: both ways agree
        for made in ((), escapes):
            assert table._bytes_one_by_one(ids, made) == table._bytes_at_once(np.asarray(ids, dtype=np.int64), made)


def test_render_takes_ids_of_any_shape_and_integer_type():
    decoder = TokenDecoder.from_path(FIXTURE_TOKENIZER)
    ids = np.random.default_rng(8).integers(0, decoder.vocab_size, (4, 50))
    expected = rendered_by_the_tokenizer(decoder, ids.reshape(-1).tolist())
    assert decoder.render(ids) == decoder.render(ids.astype(np.int32)) == decoder.render(ids.tolist()) == expected
