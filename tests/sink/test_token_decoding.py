"""TokenDecoder: special tokens marked, runs of one special token collapsed, -100 and unknown ids shown.
Run: ./run-tests tests/sink/test_token_decoding.py"""

from tokenizers import Tokenizer, models, pre_tokenizers, decoders

from stratlog.sink.token_decoding import TokenDecoder


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
