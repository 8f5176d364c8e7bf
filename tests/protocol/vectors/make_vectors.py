"""Writes the conformance vectors of PROTOCOL.md: frames, and what a receiver must say of each.

Every vector's verdict, error class and path is written here by hand, from PROTOCOL.md, not
taken from the reference decoder: the script builds each frame (from the example messages,
broken one thing at a time with msgpack-python or raw bytes), then checks that the reference
decoder agrees, and stops with the vector's name if it does not. So the files hold the
document's answers, and the reference implementation is tested against them like any other.

Run:   python tests/protocol/vectors/make_vectors.py          (rewrites the *.json beside it)
       python tests/protocol/vectors/make_vectors.py --check  (exit 1 if they would change)
The vectors' format and how to run them elsewhere: README.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import msgspec
import numpy as np

from stratlog.protocol import Heartbeat, Limits, MessageDecoder, ProtocolError, encode, kind_of
from stratlog.protocol.examples import example_messages

HERE = Path(__file__).resolve().parent
FAMILIES = ("FrameTooLarge", "MalformedFrame", "InvalidMessage", "LimitExceeded", "UnsupportedVersion")
"""The classes every receiver has; InvalidArray and UnknownKind are kinds of InvalidMessage."""
INT_MAX = 2**63 - 1
MESSAGE_SHOWN_UP_TO = 4096
"""A valid vector lists its decoded message when its frame is at most this long (bytes)."""


@dataclass
class Vector:
    name: str
    frame: bytes
    error: str | None = None
    """None: the frame is valid."""
    path: str | None = None
    limits: dict[str, int] = field(default_factory=dict)
    """Receiver limits other than the defaults of PROTOCOL.md §7 that this vector assumes."""
    note: str = ""


def plain(kind: str) -> dict:
    message = next(m for m in example_messages() if kind_of(m) == kind)
    return msgpack.unpackb(encode(message), raw=False)


def packed(kind: str, change: Callable[[dict], object] | None = None, **options) -> bytes:
    message = plain(kind)
    if change is not None:
        change(message)
    return msgpack.packb(message, **options)


def with_raw(kind: str, key: str, raw_value: bytes, *, replace: bool = True) -> bytes:
    """The kind's example frame with ``key`` (appended last) holding raw msgpack bytes."""
    message = plain(kind)
    if replace:
        message.pop(key, None)
    body = msgpack.packb(message)
    skip = 1 if body[0] < 0x90 else 3
    return b"\xde" + (len(message) + 1).to_bytes(2, "big") + body[skip:] + msgpack.packb(key) + raw_value


def with_entries(kind: str, *entries: tuple[bytes, bytes]) -> bytes:
    """The kind's example frame with raw (key, value) msgpack entries appended to its map."""
    message = plain(kind)
    body = msgpack.packb(message)
    skip = 1 if body[0] < 0x90 else 3
    return b"\xde" + (len(message) + len(entries)).to_bytes(2, "big") + body[skip:] + b"".join(k + v for k, v in entries)


def array(values, dtype: str) -> dict:
    data = np.asarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(data.shape), "data": data.tobytes()}


def nested_lists(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def valid_vectors() -> list[Vector]:
    examples = [Vector(f"example {kind_of(m)}", encode(m)) for m in example_messages()]
    worked = Heartbeat(run_id="demo", rank=1, world_size=2, seq=41, step=300, time=1700000000.25, dropped=2,
                       queue_depth=3)
    snapshot_1_0 = plain("input_snapshot")
    snapshot_1_0["minor"] = 0
    for segment in snapshot_1_0["segments"]:
        del segment["repeated_code_share"]
    heartbeat = plain("heartbeat")
    return [
        *examples,
        Vector("PROTOCOL.md §11 worked example", encode(worked)),
        Vector("a 1.0 input_snapshot: no minor, no repeated_code_share", msgpack.packb(snapshot_1_0)),
        Vector("keys in reverse order", msgpack.packb(dict(reversed(list(plain("output_snapshot").items()))))),
        Vector("floats as float 32", packed("output_snapshot", use_single_float=True)),
        Vector("an int where a float is expected", packed("heartbeat", lambda m: m.update(time=1700000000))),
        Vector("non-minimal integer encodings", with_raw("heartbeat", "seq", b"\xcf" + (7).to_bytes(8, "big")),
               note="uint 64 holding 7"),
        Vector("defaulted fields absent", packed("heartbeat", lambda m: [m.pop(k) for k in ("minor", "dropped",
                                                                                           "queue_depth")])),
        Vector("largest uint and int values", packed("heartbeat", lambda m: m.update(
            seq=INT_MAX, step=INT_MAX, queue_depth=INT_MAX, world_size=INT_MAX, rank=INT_MAX - 1))),
        Vector("smallest int in a list[int]", packed("attention_snapshot", lambda m: m["layers"].__setitem__(0, -(2**63)))),
        Vector("a newer minor with an unknown key holding anything JSON-like", packed(
            "heartbeat", lambda m: m.update(minor=9, added_in_1_9={"a": [1, None, "x", b"bin"]}))),
        Vector("an unknown key's value is skipped unread: a repeated key inside",
               with_raw("heartbeat", "added_later", b"\x82\xa1a\x01\xa1a\x02", replace=False)),
        Vector("an unknown key's value is skipped unread: a string that is not UTF-8",
               with_raw("heartbeat", "added_later", b"\xa2\xff\xfe", replace=False)),
        Vector("an unknown key's value is skipped unread: an extension type",
               with_raw("heartbeat", "added_later", b"\xd6\xff\x00\x00\x00\x01", replace=False)),
        Vector("a string of 65 536 code points (131 072 bytes of UTF-8)",
               packed("error", lambda m: m.update(message="é" * 65_536)), note="limits count code points"),
        Vector("free-form nesting of exactly 32 levels", packed(
            "run_start", lambda m: m["model_config"].update(deep=nested_lists(31)))),
        Vector("target_to_reference_attention not measured: [0]", packed(
            "zero_shot_snapshot", lambda m: m.update(target_to_reference_attention=array([], "float32")))),
        Vector("a zero-shot snapshot without rows", packed("zero_shot_snapshot", lambda m: m.update(
            sample_ids=[], speakers=[], swapped_speakers=[], languages=[], swapped_languages=[],
            true_reference_loss=array([], "float32"), swapped_reference_loss=array([], "float32"),
            target_to_reference_attention=array([], "float32"), skipped_reason="one speaker"))),
        Vector("bfloat16 and float16 tables", packed("attention_snapshot", lambda m: m.update(
            entropy={"dtype": "bfloat16", "shape": [2, 2], "data": bytes(8)},
            max_weight={"dtype": "float16", "shape": [2, 2], "data": bytes(8)}))),
        Vector("a frame at exactly the frame limit", encode(worked), limits={"max_frame_bytes": 111}),
    ]


def malformed_vectors() -> list[Vector]:
    frame = encode(example_messages()[1])
    return [
        Vector("empty frame", b"", "MalformedFrame", "$"),
        Vector("the reserved byte c1", b"\xc1", "MalformedFrame", "$"),
        Vector("truncated", frame[:-3], "MalformedFrame", "$"),
        Vector("a declared length past the end", with_raw("metrics", "values", b"\xdf\xff\xff\xff\xff"),
               "MalformedFrame", "$"),
        Vector("trailing bytes after the map", frame + b"\x00", "MalformedFrame", "$"),
        Vector("a msgpack array, not a map", msgpack.packb([1, 2, 3]), "MalformedFrame", "$"),
        Vector("a msgpack int, not a map", b"\x07", "MalformedFrame", "$"),
        Vector("a known string that is not UTF-8", with_raw("heartbeat", "run_id", b"\xa2\xff\xfe"),
               "MalformedFrame", "$"),
        Vector("an unknown key whose name is not UTF-8", with_entries("heartbeat", (b"\xa2\xff\xfe", b"\x01")),
               "MalformedFrame", "$"),
        Vector("a frame over the frame limit", frame, "FrameTooLarge", "$", limits={"max_frame_bytes": len(frame) - 1}),
        Vector("a run_start over its own limit", encode(example_messages()[0]), "FrameTooLarge", "$",
               limits={"max_run_start_bytes": 500}),
    ]


def envelope_vectors() -> list[Vector]:
    return [
        Vector("version missing", packed("heartbeat", lambda m: m.pop("version")), "InvalidMessage", "$"),
        Vector("version a string", packed("heartbeat", lambda m: m.update(version="1")), "InvalidMessage",
               "$.version"),
        Vector("version 2", packed("heartbeat", lambda m: m.update(version=2)), "UnsupportedVersion", "$.version"),
        Vector("version 0", packed("heartbeat", lambda m: m.update(version=0)), "UnsupportedVersion", "$.version"),
        Vector("kind missing", packed("heartbeat", lambda m: m.pop("kind")), "InvalidMessage", "$"),
        Vector("kind an integer", packed("heartbeat", lambda m: m.update(kind=3)), "InvalidMessage", "$.kind"),
        Vector("kind unknown", packed("heartbeat", lambda m: m.update(kind="gradient_snapshot")), "UnknownKind",
               "$.kind"),
        Vector("kind unknown, from a newer minor", packed("heartbeat", lambda m: m.update(kind="x", minor=7)),
               "UnknownKind", "$.kind"),
        Vector("a required field missing", packed("run_end", lambda m: m.pop("status")), "InvalidMessage", "$"),
        Vector("a field of the wrong type", packed("metrics", lambda m: m.update(rank="0")), "InvalidMessage",
               "$.rank"),
        Vector("nil for a defaulted field", packed("heartbeat", lambda m: m.update(queue_depth=None)),
               "InvalidMessage", "$.queue_depth"),
        Vector("a bool where an int is expected", packed("heartbeat", lambda m: m.update(rank=True)),
               "InvalidMessage", "$.rank"),
        Vector("a float where an int is expected", packed("heartbeat", lambda m: m.update(seq=1.0)),
               "InvalidMessage", "$.seq"),
        Vector("an extension type in a field", with_raw("heartbeat", "time", b"\xd6\xff\x00\x00\x00\x01"),
               "InvalidMessage", "$.time"),
        Vector("a negative uint", packed("heartbeat", lambda m: m.update(seq=-1)), "InvalidMessage", "$.seq"),
        Vector("a uint of 2^63", packed("heartbeat", lambda m: m.update(queue_depth=2**63)), "InvalidMessage",
               "$.queue_depth"),
        Vector("an int of 2^64 - 1 in a list[int]", packed("run_start", lambda m: m.update(capture_ranks=[2**64 - 1])),
               "InvalidMessage", "$.capture_ranks[0]"),
        Vector("world_size 0", packed("heartbeat", lambda m: m.update(world_size=0, rank=0)), "InvalidMessage",
               "$.world_size"),
        Vector("rank not below world_size", packed("heartbeat", lambda m: m.update(rank=1, world_size=1)),
               "InvalidMessage", "$.rank"),
        Vector("segment role 'other'", packed("input_snapshot", lambda m: m["segments"][1].update(role="other")),
               "InvalidMessage", "$.segments[1].role"),
    ]


def limit_vectors() -> list[Vector]:
    return [
        Vector("a string of 65 537 code points", packed("error", lambda m: m.update(message="x" * 65_537)),
               "LimitExceeded", "$.message"),
        Vector("a list of 65 537 elements", packed("attention_snapshot", lambda m: m.update(layers=[0] * 65_537)),
               "LimitExceeded", "$.layers"),
        Vector("an unknown key's name of 65 537 code points", packed("heartbeat", lambda m: m.update({"k" * 65_537: 1})),
               "LimitExceeded", "$." + "k" * 64),
        Vector("a shape of 33 dimensions", packed("input_snapshot", lambda m: m.update(
            input_ids={"dtype": "int8", "shape": [1] * 33, "data": b"\x00"})), "LimitExceeded", "$.input_ids.shape"),
        Vector("an array over the element limit", packed("input_snapshot"), "LimitExceeded", "$.input_ids",
               limits={"max_array_elements": 47}, note="input_ids has 48 elements"),
        Vector("free-form nesting of 33 levels", packed("run_start", lambda m: m["model_config"].update(
            deep=nested_lists(32))), "LimitExceeded", "$.model_config.deep" + "[0]" * 31),
    ]


def array_vectors() -> list[Vector]:
    def attention(**tables) -> bytes:
        return packed("attention_snapshot", lambda m: m.update(tables))

    def set_byte(message: dict) -> None:
        data = bytearray(message["text_match"]["data"])
        data[3] = 2
        message["text_match"]["data"] = bytes(data)

    def rows_plus_one(field: str, dtype: str) -> Callable[[dict], None]:
        return lambda m: m.update({field: array(np.zeros((m[field]["shape"][0] + 1, m[field]["shape"][1])), dtype)})

    return [
        Vector("dtype outside the whitelist", attention(entropy={"dtype": "complex64", "shape": [1], "data": bytes(8)}),
               "InvalidArray", "$.entropy.dtype"),
        Vector("uint32 is not whitelisted", attention(entropy={"dtype": "uint32", "shape": [2, 2], "data": bytes(16)}),
               "InvalidArray", "$.entropy.dtype"),
        Vector("a negative dimension", attention(entropy={"dtype": "float32", "shape": [-1, -4], "data": bytes(16)}),
               "InvalidArray", "$.entropy.shape"),
        Vector("data shorter than its shape", attention(entropy={"dtype": "float32", "shape": [2, 2], "data": bytes(12)}),
               "InvalidArray", "$.entropy.data"),
        Vector("a bool array holding 2", packed("output_snapshot", set_byte), "InvalidArray", "$.text_match.data"),
        Vector("float32 input_ids", packed("input_snapshot", lambda m: m.update(input_ids=array([1.0, 2.0], "float32"))),
               "InvalidArray", "$.input_ids.dtype"),
        Vector("input_ids shaped [1, 2]", packed("input_snapshot", lambda m: m.update(input_ids=array([[5, 6]], "int32"))),
               "InvalidArray", "$.input_ids.shape"),
        Vector("int32 text_match", packed("output_snapshot", lambda m: m.update(text_match=array(np.ones(12), "int32"))),
               "InvalidArray", "$.text_match.dtype"),
        Vector("bool input_ids", packed("input_snapshot", lambda m: m.update(input_ids=array([True], "bool"))),
               "InvalidArray", "$.input_ids.dtype"),
        Vector("integer codebook_losses", packed("output_snapshot", lambda m: m.update(
            codebook_losses=array([1, 2], "int64"))), "InvalidArray", "$.codebook_losses.dtype"),
        Vector("a scalar where [C] is documented", packed("output_snapshot", lambda m: m.update(
            codebook_accuracies=array(0.5, "float32"))), "InvalidArray", "$.codebook_accuracies.shape"),
        Vector("audio_labels shaped [C + 1, f]", packed("output_snapshot", rows_plus_one("audio_labels", "int32")),
               "InvalidArray", "$.audio_labels.shape"),
        Vector("audio_predictions with another f", packed("output_snapshot", lambda m: m.update(
            audio_predictions=array(np.zeros((2, 3)), "int32"))), "InvalidArray", "$.audio_predictions.shape"),
        Vector("text_labels with another n", packed("output_snapshot", lambda m: m.update(
            text_labels=array(np.zeros(11), "int32"))), "InvalidArray", "$.text_labels.shape"),
        Vector("predicted_text_ids with another m", packed("output_snapshot", lambda m: m.update(
            predicted_text_ids=array(np.zeros(3), "int32"))), "InvalidArray", "$.predicted_text_ids.shape"),
        Vector("an attention table shaped [L + 1, H]", packed("attention_snapshot", rows_plus_one("entropy", "float32")),
               "InvalidArray", "$.entropy.shape"),
        Vector("a histogram with another H", attention(max_weight_histogram=array(np.zeros((2, 3, 4)), "int32")),
               "InvalidArray", "$.max_weight_histogram.shape"),
        Vector("a float histogram", attention(max_weight_histogram=array(np.zeros((2, 2, 4)), "float32")),
               "InvalidArray", "$.max_weight_histogram.dtype"),
        Vector("ffn_layers longer than the FFN tables", packed("attention_snapshot", lambda m: m["ffn_layers"].append(7)),
               "InvalidArray", "$.text_ffn_grad_norm.shape"),
        Vector("a zero-shot table with another n", packed("zero_shot_snapshot", lambda m: m.update(
            true_reference_loss=array([1.0], "float32"))), "InvalidArray", "$.true_reference_loss.shape"),
        Vector("zero-shot lists of unequal length", packed("zero_shot_snapshot", lambda m: m["swapped_speakers"].append(
            "spk99")), "InvalidMessage", "$.swapped_speakers"),
        Vector("input_snapshot lists of unequal length", packed("input_snapshot", lambda m: m["languages"].pop()),
               "InvalidMessage", "$.languages"),
        Vector("a segment ending before its start", packed("input_snapshot", lambda m: m["segments"][0].update(
            end=m["segments"][0]["start"] - 1)), "InvalidMessage", "$.segments[0].end"),
        Vector("a segment of a sample outside the batch", packed("input_snapshot", lambda m: m["segments"][2].update(
            sample=2)), "InvalidMessage", "$.segments[2].sample"),
        Vector("a repeated_code_share of 1.5", packed("input_snapshot", lambda m: m["segments"][3].update(
            repeated_code_share=1.5)), "InvalidMessage", "$.segments[3].repeated_code_share"),
        Vector("a pair_similarity of -0.5", packed("input_snapshot", lambda m: m["segments"][0].update(
            pair_similarity=-0.5)), "InvalidMessage", "$.segments[0].pair_similarity"),
    ]


def key_vectors() -> list[Vector]:
    def field_as_raw(kind: str, field_name: str, raw_value: bytes) -> bytes:
        return with_raw(kind, field_name, raw_value)

    float8 = b"\xcb" + bytes(8)
    return [
        Vector("a top-level key twice", with_raw("heartbeat", "rank", b"\x00", replace=False), "InvalidMessage",
               "$.rank"),
        Vector("kind twice", with_raw("heartbeat", "kind", b"\xa9heartbeat", replace=False), "InvalidMessage", "$.kind"),
        Vector("an unknown key twice", with_entries("heartbeat", (b"\xa1x", b"\x01"), (b"\xa1x", b"\x02")),
               "InvalidMessage", "$.x"),
        Vector("a key twice in an Array", field_as_raw(
            "attention_snapshot", "entropy", b"\x84\xa5dtype\xa7float32\xa5shape\x92\x02\x02\xa4data\xc4\x10"
            + bytes(16) + b"\xa5dtype\xa7float32"), "InvalidMessage", "$.entropy.dtype"),
        Vector("a key twice in metrics values", field_as_raw("metrics", "values", b"\x82\xa4loss" + float8 + b"\xa4loss"
                                                             + float8), "InvalidMessage", "$.values.loss"),
        Vector("a key twice in a TensorInfo", field_as_raw(
            "input_snapshot", "tensors", b"\x91\x84\xa4name\xa1x\xa5shape\x90\xa5dtype\xa0\xa4name\xa1y"),
            "InvalidMessage", "$.tensors[0].name"),
        Vector("a key twice deep in model_config", field_as_raw(
            "run_start", "model_config", b"\x81\xa4deep\x91\x82\xa1k\x01\xa1k\x02"), "InvalidMessage",
            "$.model_config.deep[0].k"),
        Vector("a binary value in model_config", packed("run_start", lambda m: m["model_config"].update(blob=b"x")),
               "InvalidMessage", "$.model_config.blob"),
        Vector("an int key in training_args", field_as_raw("run_start", "training_args", b"\x81\x01\x02"),
               "InvalidMessage", "$.training_args"),
        Vector("an extension type in model_config", field_as_raw("run_start", "model_config",
                                                                 b"\x81\xa1t\xd6\xff\x00\x00\x00\x01"),
               "InvalidMessage", "$.model_config.t"),
    ]


GROUPS: dict[str, Callable[[], list[Vector]]] = {
    "valid": valid_vectors,
    "malformed": malformed_vectors,
    "envelope_and_types": envelope_vectors,
    "limits": limit_vectors,
    "arrays_and_shapes": array_vectors,
    "keys_and_free_form": key_vectors,
}
"""File name -> its vectors."""


def family_of(error_class: str) -> str:
    return {"InvalidArray": "InvalidMessage", "UnknownKind": "InvalidMessage"}.get(error_class, error_class)


def as_json(value: object) -> object:
    """A decoded message as JSON: binary data as lowercase hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value


def checked(vector: Vector) -> dict:
    """The vector as written to its file, after the reference decoder agreed with it."""
    decoder = MessageDecoder(Limits(**vector.limits))
    try:
        message = decoder.decode(vector.frame)
        outcome = (None, None)
    except ProtocolError as error:
        message, outcome = None, (type(error).__name__, error.path)
    expected = (vector.error, vector.path if vector.error else None)
    if outcome != expected:
        sys.exit(f"vector {vector.name!r}: PROTOCOL.md says {expected}, the reference decoder {outcome}")
    entry: dict = {"name": vector.name, "frame": vector.frame.hex()}
    if vector.limits:
        entry["limits"] = vector.limits
    if vector.error is None:
        entry["verdict"] = "valid"
        entry["kind"] = kind_of(message)
        if len(vector.frame) <= MESSAGE_SHOWN_UP_TO:
            entry["message"] = as_json(msgspec.to_builtins(message, builtin_types=(bytes,)))
    else:
        entry.update(verdict="invalid", error=vector.error, error_family=family_of(vector.error), path=vector.path)
    if vector.note:
        entry["note"] = vector.note
    return entry


def render(group: str) -> str:
    vectors = [checked(vector) for vector in GROUPS[group]()]
    return json.dumps({"group": group, "vectors": vectors}, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="Only compare with the files; exit 1 if any differs.")
    args = parser.parse_args()
    stale = []
    for group in GROUPS:
        path = HERE / f"{group}.json"
        text = render(group)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        sys.exit(f"stale vector files: {', '.join(stale)}; run python {Path(__file__).relative_to(Path.cwd())}")


if __name__ == "__main__":
    main()
