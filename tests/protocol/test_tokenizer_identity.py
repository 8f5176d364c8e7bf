"""RunStart.tokenizer_identity (1.2): the digest is exactly what PROTOCOL.md spells out, it tells
vocabularies apart, and a run start from an older sender decodes with the identity "not given".
Run: python -m pytest tests/protocol/test_tokenizer_identity.py -q"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgpack
from tokenizers import Tokenizer

from stratlog.protocol import TokenizerIdentity, decode, encode, vocabulary_digest
from stratlog.protocol.examples import example_messages

TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "demo-tokenizer.json"


def test_the_digest_is_the_one_protocol_md_spells_out():
    vocabulary = {"b": 1, "a": 0, "é\n": 2}
    written = b"0 1 a\n" + b"1 1 b\n" + "2 3 é\n\n".encode()  # id, byte length, bytes, newline; by id
    assert vocabulary_digest(vocabulary) == "sha256:" + hashlib.sha256(written).hexdigest()
    assert vocabulary_digest({"a": 1, "b": 0, "é\n": 2}) != vocabulary_digest(vocabulary)  # same tokens, other ids


def test_the_identity_of_a_real_tokenizer():
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    identity = TokenizerIdentity.of(tokenizer)
    assert identity.vocabulary_size == tokenizer.get_vocab_size(with_added_tokens=True)
    assert identity.special_tokens["<|begin_of_text|>"] == tokenizer.token_to_id("<|begin_of_text|>")
    assert identity.digest == vocabulary_digest(tokenizer.get_vocab(with_added_tokens=True))


def test_a_run_start_without_the_identity_decodes_with_it_not_given():
    run_start = next(message for message in example_messages() if type(message).__name__ == "RunStart")
    plain = msgpack.unpackb(encode(run_start))
    del plain["tokenizer_identity"]
    plain["minor"] = 1
    identity = decode(msgpack.packb(plain)).tokenizer_identity
    assert (identity.vocabulary_size, identity.special_tokens, identity.digest) == (0, {}, "")
