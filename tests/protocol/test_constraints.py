"""Every documented constraint is refused at decode time with our class and the field's path.

The first table is issue 16's list of frames the receiver used to accept although PROTOCOL.md
calls them invalid; the rest covers each row of `protocol.constraints` and the integer ranges.
Frames are the example messages, broken one field at a time as plain dicts and re-packed with
msgpack-python. Reasons asserted are our own words, never msgspec's.

Run: python -m pytest tests/protocol/test_constraints.py -q
"""

from __future__ import annotations

from collections.abc import Callable

import msgpack
import msgspec
import numpy as np
import pytest

from stratlog.protocol import (
    DEFAULT_LIMITS,
    WIRE_DTYPES,
    Array,
    InvalidArray,
    InvalidMessage,
    LimitExceeded,
    MalformedFrame,
    ProtocolError,
    decode,
    encode,
    kind_of,
)
from stratlog.protocol.constraints import KIND_CONSTRAINTS, _FAST_CHECKS, _check_step_by_step
from stratlog.protocol.examples import example_messages

INT_MAX = 2**63 - 1


def plain(kind: str) -> dict:
    message = next(m for m in example_messages() if kind_of(m) == kind)
    return msgpack.unpackb(encode(message), raw=False)


def array(values, dtype: str) -> dict:
    data = np.asarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(data.shape), "data": data.tobytes()}


def broken(kind: str, change: Callable[[dict], None]) -> bytes:
    message = plain(kind)
    change(message)
    return msgpack.packb(message)


def refusal(frame: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    return caught.value


def set_text_match_byte(message: dict) -> None:
    data = bytearray(message["text_match"]["data"])
    data[3] = 2
    message["text_match"]["data"] = bytes(data)


def grow_first_dimension(field: str) -> Callable[[dict], None]:
    def change(message: dict) -> None:
        rows, columns = message[field]["shape"]
        message[field] = array(np.zeros((rows + 1, columns)), "int32" if field == "audio_labels" else "float32")
    return change


def duplicate_key(kind: str, key: str, value: object) -> bytes:
    """The example frame with ``key`` written a second time (msgpack maps keep every entry)."""
    message = plain(kind)
    body = msgpack.packb(message)
    header = bytes([0xDE]) + (len(message) + 1).to_bytes(2, "big")
    skip = 1 if body[0] < 0x90 else 3
    return header + body[skip:] + msgpack.packb(key) + msgpack.packb(value)


ISSUE_16_FRAMES = {
    "input_ids shaped [1, 2]": (
        broken("input_snapshot", lambda m: m.update(input_ids=array([[5, 6]], "int32"))),
        InvalidArray, "$.input_ids.shape", "has 2 dimensions",
    ),
    "float32 input_ids": (
        broken("input_snapshot", lambda m: m.update(input_ids=array([1.0, 2.0], "float32"))),
        InvalidArray, "$.input_ids.dtype", "is not integer",
    ),
    "int32 text_match": (
        broken("output_snapshot", lambda m: m.update(text_match=array(np.ones(12), "int32"))),
        InvalidArray, "$.text_match.dtype", "is not bool",
    ),
    "a bool array holding 2": (
        broken("output_snapshot", set_text_match_byte),
        InvalidArray, "$.text_match.data", "other than 0 and 1",
    ),
    "audio_labels shaped [C+1, f]": (
        broken("output_snapshot", grow_first_dimension("audio_labels")),
        InvalidArray, "$.audio_labels.shape", "C is 2 (from $.codebook_losses.shape)",
    ),
    "an attention table shaped [L+1, H]": (
        broken("attention_snapshot", grow_first_dimension("entropy")),
        InvalidArray, "$.entropy.shape", "L is 2 (from $.layers)",
    ),
    "a scalar where [C] is documented": (
        broken("output_snapshot", lambda m: m.update(codebook_accuracies=array(0.5, "float32"))),
        InvalidArray, "$.codebook_accuracies.shape", "has 0 dimensions",
    ),
    "zero-shot lists of unequal length": (
        broken("zero_shot_snapshot", lambda m: m["swapped_speakers"].append("spk99")),
        InvalidMessage, "$.swapped_speakers", "3 items, but $.sample_ids has 2",
    ),
    "segment role 'other'": (
        broken("input_snapshot", lambda m: m["segments"][1].update(role="other")),
        InvalidMessage, "$.segments[1].role", "",
    ),
    "queue_depth = 2^63": (
        broken("heartbeat", lambda m: m.update(queue_depth=2**63)),
        InvalidMessage, "$.queue_depth", "",
    ),
    "duplicate map key": (duplicate_key("heartbeat", "rank", 0), InvalidMessage, "$.rank", "appears twice"),
}


@pytest.mark.parametrize("name", ISSUE_16_FRAMES)
def test_frames_the_document_calls_invalid_are_refused(name: str) -> None:
    frame, error_class, path, reason = ISSUE_16_FRAMES[name]
    error = refusal(frame)
    assert type(error) is error_class and error.path == path and reason in error.reason, error


@pytest.mark.parametrize(
    "kind, change, error_class, path, reason",
    [
        ("input_snapshot", lambda m: m["segments"][0].update(end=m["segments"][0]["start"] - 1),
         InvalidMessage, "$.segments[0].end", "before start"),
        ("input_snapshot", lambda m: m["segments"][2].update(sample=2), InvalidMessage, "$.segments[2].sample",
         "not below the batch size 2"),
        ("input_snapshot", lambda m: m["segments"][3].update(repeated_code_share=1.5), InvalidMessage,
         "$.segments[3].repeated_code_share", "neither -1"),
        ("input_snapshot", lambda m: m["segments"][3].update(repeated_code_share=float("nan")), InvalidMessage,
         "$.segments[3].repeated_code_share", "neither -1"),
        ("input_snapshot", lambda m: m["languages"].pop(), InvalidMessage, "$.languages", "both count B"),
        ("output_snapshot", lambda m: m.update(text_labels=array(np.zeros(11), "int32")), InvalidArray,
         "$.text_labels.shape", "n is 12"),
        ("output_snapshot", lambda m: m.update(predicted_text_ids=array(np.zeros(3), "int32")), InvalidArray,
         "$.predicted_text_ids.shape", "m is 12"),
        ("output_snapshot", lambda m: m.update(audio_predictions=array(np.zeros((2, 3)), "int32")), InvalidArray,
         "$.audio_predictions.shape", "f is 12 (from $.audio_frames.shape)"),
        ("output_snapshot", lambda m: m.update(codebook_losses=array([1, 2], "int64")), InvalidArray,
         "$.codebook_losses.dtype", "is not float"),
        ("attention_snapshot", lambda m: m.update(max_weight_histogram=array(np.zeros((2, 2, 4)), "float32")),
         InvalidArray, "$.max_weight_histogram.dtype", "is not integer"),
        ("attention_snapshot", lambda m: m.update(max_weight_histogram=array(np.zeros((2, 3, 4)), "int32")),
         InvalidArray, "$.max_weight_histogram.shape", "H is 2 (from $.heads)"),
        ("attention_snapshot", lambda m: m["ffn_layers"].append(7), InvalidArray, "$.text_ffn_grad_norm.shape",
         "F is 3 (from $.ffn_layers)"),
        ("attention_snapshot", lambda m: m["layers"].append(2**63), InvalidMessage, "$.layers[2]", ""),
        ("zero_shot_snapshot", lambda m: m.update(true_reference_loss=array([1.0], "float32")), InvalidArray,
         "$.true_reference_loss.shape", "n is 2 (from $.sample_ids)"),
        ("zero_shot_snapshot", lambda m: m.update(target_to_reference_attention=array([0.1, 0.2, 0.3], "float32")),
         InvalidArray, "$.target_to_reference_attention.shape", "n is 2"),
        ("run_start", lambda m: m.update(pid=2**64 - 1), InvalidMessage, "$.pid", ""),
        ("run_start", lambda m: m["capture_ranks"].append(2**63), InvalidMessage, "$.capture_ranks[0]", ""),
        ("run_end", lambda m: m.update(world_size=2**63), InvalidMessage, "$.world_size", ""),
        ("input_snapshot", lambda m: m["tensors"][0].update(shape=[2**63]), InvalidMessage, "$.tensors[0].shape[0]", ""),
    ],
)
def test_each_constraint_is_refused_with_its_path(kind, change, error_class, path, reason) -> None:
    error = refusal(broken(kind, change))
    assert type(error) is error_class and error.path == path and reason in error.reason, error


def test_the_largest_allowed_integers_still_decode() -> None:
    message = plain("heartbeat")
    message.update(queue_depth=INT_MAX, seq=INT_MAX, step=INT_MAX, world_size=INT_MAX, rank=INT_MAX - 1)
    assert decode(msgpack.packb(message)).queue_depth == INT_MAX


def test_not_measured_attention_is_an_empty_table_of_any_float_dtype() -> None:
    frame = broken("zero_shot_snapshot", lambda m: m.update(target_to_reference_attention=array([], "float16")))
    assert decode(frame).target_to_reference_attention.shape == [0]
    error = refusal(broken("zero_shot_snapshot", lambda m: m.update(target_to_reference_attention=array([], "int8"))))
    assert type(error) is InvalidArray and error.path == "$.target_to_reference_attention.dtype"


def test_element_limit_and_negative_dimensions_keep_their_classes_in_constrained_fields() -> None:
    frame = broken("input_snapshot", lambda m: m.update(input_ids={"dtype": "int32", "shape": [-1], "data": b""}))
    assert (type(refusal(frame)), refusal(frame).path) == (InvalidArray, "$.input_ids.shape")
    frame = broken("attention_snapshot", lambda m: m.update(entropy={"dtype": "float32", "shape": [2, -2], "data": b""}))
    assert (type(refusal(frame)), refusal(frame).path) == (InvalidArray, "$.entropy.shape")
    huge = {"dtype": "int32", "shape": [1 << 21], "data": b""}
    assert type(refusal(broken("input_snapshot", lambda m: m.update(input_ids=huge)))) is LimitExceeded


@pytest.mark.parametrize(
    "kind, key, value, path",
    [
        ("heartbeat", "kind", "heartbeat", "$.kind"),
        ("heartbeat", "added_in_1_9", 1, "$.added_in_1_9"),
        ("metrics", "values", {"loss": 1.0}, "$.values"),
    ],
)
def test_a_key_written_twice_is_refused_at_the_top_level(kind, key, value, path) -> None:
    message = plain(kind)
    if key not in message:
        message[key] = value
    frame = duplicate_key_of(message, key, value)
    error = refusal(frame)
    assert type(error) is InvalidMessage and error.path == path and "appears twice" in error.reason


def duplicate_key_of(message: dict, key: str, value: object) -> bytes:
    body = msgpack.packb(message)
    skip = 1 if body[0] < 0x90 else 3
    return b"\xde" + (len(message) + 1).to_bytes(2, "big") + body[skip:] + msgpack.packb(key) + msgpack.packb(value)


@pytest.mark.parametrize(
    "kind, field, raw_value, path",
    [
        ("attention_snapshot", "entropy", b"\x84\xa5dtype\xa7float32\xa5shape\x92\x02\x02\xa4data\xc4\x10" + bytes(16)
         + b"\xa5dtype\xa7float32", "$.entropy.dtype"),
        ("metrics", "values", b"\x82\xa4loss\xcb" + bytes(8) + b"\xa4loss\xcb" + bytes(8), "$.values.loss"),
        ("input_snapshot", "tensors", b"\x91\x84\xa4name\xa1x\xa5shape\x90\xa5dtype\xa0\xa4name\xa1y",
         "$.tensors[0].name"),
        ("run_start", "model_config", b"\x81\xa4deep\x91\x82\xa1k\x01\xa1k\x02", "$.model_config.deep[0].k"),
    ],
)
def test_a_key_written_twice_is_refused_in_every_map_the_receiver_reads(kind, field, raw_value, path) -> None:
    message = plain(kind)
    del message[field]
    body = msgpack.packb(message)
    skip = 1 if body[0] < 0x90 else 3
    frame = b"\xde" + (len(message) + 1).to_bytes(2, "big") + body[skip:] + msgpack.packb(field) + raw_value
    error = refusal(frame)
    assert type(error) is InvalidMessage and error.path == path and "appears twice" in error.reason


def test_a_frame_another_encoder_wrote_is_walked_and_accepted() -> None:
    """Reversed key order and a float where an int would do: not our bytes, still valid."""
    for message in example_messages():
        original = msgpack.unpackb(encode(message), raw=False)
        frame = msgpack.packb(dict(reversed(list(original.items()))), use_single_float=True)
        assert frame != encode(message)
        assert kind_of(decode(frame)) == kind_of(message)


def test_values_of_unknown_keys_are_skipped_unread() -> None:
    """PROTOCOL.md §9: a repeated key, a non-UTF-8 string or an extension type inside an
    unknown key's value does not make a frame invalid; the unknown key's name is read."""
    message = plain("heartbeat")
    body = msgpack.packb(message)
    for value in (b"\x82\xa1a\x01\xa1a\x02", b"\xa2\xff\xfe", b"\xd4\x01\x00"):
        frame = bytes([body[0] + 1]) + body[1:] + msgpack.packb("added_later") + value
        assert decode(frame).queue_depth == message["queue_depth"]


def test_the_fast_check_and_the_step_by_step_check_agree() -> None:
    """Every array of every example snapshot replaced by arrays of other dtypes and shapes:
    where the straight-line check says no, the step-by-step one names an error, and where it
    says yes, none (the decoder trusts the first and explains with the second)."""
    max_elements = DEFAULT_LIMITS.max_array_elements
    rng = np.random.default_rng(16)
    shapes = ([], [0], [2], [12], [2, 2], [2, 12], [2, 2, 4], [-1], [3, 0])
    for message in example_messages():
        rules = KIND_CONSTRAINTS.get(type(message))
        for rule in rules.arrays if rules else ():
            for dtype in WIRE_DTYPES:
                for shape in shapes:
                    size = max(0, int(np.prod(shape))) * WIRE_DTYPES[dtype].itemsize
                    data = rng.integers(0, 2, size, dtype=np.uint8).tobytes()
                    typed = msgspec.structs.replace(message, **{rule.field: Array(dtype=dtype, shape=shape, data=data)})
                    try:
                        _check_step_by_step(typed, kind_of(message), max_elements)
                        explained = None
                    except ProtocolError as error:
                        explained = error
                    assert _FAST_CHECKS[type(message)](typed, max_elements) == (explained is None), (
                        kind_of(message), rule.field, dtype, shape, explained)


def test_unknown_keys_keep_the_schema_caps_and_utf8() -> None:
    """msgspec skips unknown keys unread; the key walk reads their names and counts them."""
    message = plain("heartbeat")
    long_name = "k" * 65_537
    error = refusal(msgpack.packb({**message, long_name: 1}))
    assert type(error) is LimitExceeded and error.path == f"$.{long_name[:64]}"
    assert decode(msgpack.packb({**message, "k" * 65_536: 1}))  # the limit itself is allowed
    many = {**message, **{f"x{i}": None for i in range(65_536)}}
    error = refusal(msgpack.packb(many))
    assert type(error) is LimitExceeded and error.path == "$" and "entries exceeds 65536" in error.reason
    body = msgpack.packb(message)
    frame = bytes([body[0] + 1]) + body[1:] + b"\xa2\xff\xfe" + b"\x01"
    error = refusal(frame)
    assert type(error) is MalformedFrame and "not valid UTF-8" in error.reason


def test_a_letter_first_set_by_an_optional_array_is_checked_when_that_array_is_empty() -> None:
    """A dimension letter whose first use is a "may be empty" array: when that array is [0], the
    next array with the letter sets it; when it is not, the next array must match it."""
    from types import SimpleNamespace

    from stratlog.protocol.constraints import ArrayShape, KindConstraints, _compile

    holds = _compile(KindConstraints(arrays=(
        ArrayShape("optional", "integer", ("x",), or_empty=True),
        ArrayShape("required", "integer", ("x", "y")),
        ArrayShape("later", "integer", ("y",), or_empty=True),
    )))

    def message(optional: list, required: list, later: list) -> SimpleNamespace:
        def wire(values: list) -> Array:
            return Array.from_numpy(np.asarray(values, dtype=np.int32))
        return SimpleNamespace(optional=wire(optional), required=wire(required), later=wire(later))

    assert holds(message([], [[1, 2], [3, 4], [5, 6]], []), 1000)
    assert holds(message([7, 8, 9], [[1, 2], [3, 4], [5, 6]], [1, 2]), 1000)
    assert not holds(message([7, 8], [[1, 2], [3, 4], [5, 6]], []), 1000)
    assert not holds(message([], [[1, 2], [3, 4], [5, 6]], [1, 2, 3]), 1000)
