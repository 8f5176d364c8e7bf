"""The conformance vectors (tests/protocol/vectors/*.json) through the reference decoder, and the
files kept equal to what make_vectors.py writes.

Each vector is a frame and what PROTOCOL.md says a receiver must make of it (valid, or the
error class and path); a third-party receiver runs the same files (vectors/README.md).

Run: python -m pytest tests/protocol/test_vectors.py -q
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path

import msgspec
import pytest

from stratlog.protocol import Limits, MessageDecoder, ProtocolError, kind_of

VECTORS = Path(__file__).resolve().parent / "vectors"
FILES = sorted(VECTORS.glob("*.json"))


@functools.cache
def load_generator():
    """vectors/make_vectors.py, a script rather than a package module (its dataclass needs it
    registered in sys.modules while it runs)."""
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def all_vectors() -> list[tuple[str, dict]]:
    return [(f"{path.stem}: {v['name']}", v) for path in FILES for v in json.loads(path.read_text())["vectors"]]


@pytest.mark.parametrize("name, vector", all_vectors(), ids=[name for name, _ in all_vectors()])
def test_the_reference_decoder_gives_each_vector_its_verdict(name: str, vector: dict) -> None:
    decoder = MessageDecoder(Limits(**vector.get("limits", {})))
    frame = bytes.fromhex(vector["frame"])
    if vector["verdict"] == "valid":
        message = decoder.decode(frame)
        assert kind_of(message) == vector["kind"]
        if "message" in vector:
            generator = load_generator()
            assert generator.as_json(msgspec.to_builtins(message, builtin_types=(bytes,))) == vector["message"]
        return
    with pytest.raises(ProtocolError) as caught:
        decoder.decode(frame)
    error = caught.value
    assert (type(error).__name__, error.path) == (vector["error"], vector["path"])
    assert any(cls.__name__ == vector["error_family"] for cls in type(error).__mro__)


def test_the_files_are_what_the_generator_writes() -> None:
    generator = load_generator()
    assert {path.stem for path in FILES} == set(generator.GROUPS)
    for group in generator.GROUPS:
        assert (VECTORS / f"{group}.json").read_text() == generator.render(group), (
            f"{group}.json is stale: run python tests/protocol/vectors/make_vectors.py")


def test_the_set_covers_every_error_class_and_every_kind() -> None:
    vectors = [vector for _, vector in all_vectors()]
    errors = {v["error"] for v in vectors if v["verdict"] == "invalid"}
    assert errors == {"FrameTooLarge", "MalformedFrame", "InvalidMessage", "InvalidArray", "UnknownKind",
                      "LimitExceeded", "UnsupportedVersion"}
    from stratlog.protocol import MESSAGE_TYPES

    assert {v["kind"] for v in vectors if v["verdict"] == "valid"} == set(MESSAGE_TYPES)
