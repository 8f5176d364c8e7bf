"""What each snapshot's fields must agree on, beyond their types: one table, read by the decoder.

PROTOCOL.md §6 gives every array field an element family (integer, float, bool) and a shape in
letters, ``[C, f]``; fields that share a letter share that dimension, and some letters are list
lengths (``L`` is ``len(layers)``). :data:`KIND_CONSTRAINTS` holds exactly that, one row per
kind, and the decoder checks every frame against it after the typed decode, so code above the
protocol can index ``audio_labels[c, i]`` for every codebook ``c < len(codebook_losses)`` without
checking again. The checks cost a few dictionary lookups per array: no NumPy, no loop over
elements. A test holds the §6 tables and this one to each other.

What needs the run's ``run_start`` (``C`` equal to the model's ``num_codebooks``, ids below the
vocabulary size) is not here: the decoder sees one frame, and PROTOCOL.md §8 names the receiver
that checks those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from stratlog.protocol.arrays import FLOAT_DTYPES, INTEGER_DTYPES, WIRE_DTYPES, Array
from stratlog.protocol.errors import InvalidArray, InvalidMessage
from stratlog.protocol.snapshots import AttentionSnapshot, InputSnapshot, OutputSnapshot, ZeroShotSnapshot

FAMILIES: dict[str, frozenset[str]] = {
    "integer": INTEGER_DTYPES,
    "float": FLOAT_DTYPES,
    "bool": frozenset({"bool"}),
}
"""Element family named in PROTOCOL.md -> the dtypes it allows."""


@dataclass(frozen=True)
class ArrayShape:
    """One array field: its element family and its dimensions as letters."""

    field: str
    family: str
    """A key of :data:`FAMILIES`."""
    dims: tuple[str, ...]
    """One letter per dimension; the same letter anywhere in the kind is the same size."""
    or_empty: bool = False
    """``[0]`` is also allowed (a table that was not measured)."""


@dataclass(frozen=True)
class KindConstraints:
    """What one kind's fields must agree on."""

    list_lengths: tuple[tuple[str, str], ...] = ()
    """(list field, letter): the list's length is that dimension."""
    arrays: tuple[ArrayShape, ...] = ()
    rows: Callable[[object, str], None] | None = None
    """Checks of the kind's lists of structures (one Python step per row, not per element)."""


def _check_segments(message: InputSnapshot, kind: str) -> None:
    """Each segment ends at or after its start, names a sample of the batch, and has a share and a
    pair similarity that are -1 or in [0, 1] (a plain loop: ~40 ns a segment)."""
    batch = len(message.sample_ids)
    for index, segment in enumerate(message.segments):
        if segment.end < segment.start:
            raise InvalidMessage(
                f"end {segment.end} is before start {segment.start}", path=f"$.segments[{index}].end", kind=kind
            )
        if segment.sample >= batch:
            raise InvalidMessage(
                f"sample {segment.sample} is not below the batch size {batch} (len($.sample_ids))",
                path=f"$.segments[{index}].sample",
                kind=kind,
            )
        for field in ("repeated_code_share", "pair_similarity"):
            value = getattr(segment, field)
            if not 0.0 <= value <= 1.0 and value != -1.0:  # NaN fails both
                raise InvalidMessage(
                    f"{field} {value} is neither -1 (not measured) nor in [0, 1]",
                    path=f"$.segments[{index}].{field}",
                    kind=kind,
                )


_ATTENTION_TABLES = ("text_to_audio", "audio_to_text", "target_to_reference", "entropy", "max_weight")
_FFN_TABLES = ("text_ffn_grad_norm", "audio_ffn_grad_norm", "text_ffn_update_ratio", "audio_ffn_update_ratio")

KIND_CONSTRAINTS: dict[type, KindConstraints] = {
    InputSnapshot: KindConstraints(
        list_lengths=(("sample_ids", "B"), ("speakers", "B"), ("languages", "B")),
        arrays=(ArrayShape("input_ids", "integer", ("T",)),),
        rows=_check_segments,
    ),
    OutputSnapshot: KindConstraints(
        arrays=(
            ArrayShape("codebook_losses", "float", ("C",)),
            ArrayShape("codebook_accuracies", "float", ("C",)),
            ArrayShape("text_positions", "integer", ("n",)),
            ArrayShape("text_labels", "integer", ("n",)),
            ArrayShape("text_predictions", "integer", ("n",)),
            ArrayShape("text_match", "bool", ("n",)),
            ArrayShape("target_text_ids", "integer", ("m",)),
            ArrayShape("predicted_text_ids", "integer", ("m",)),
            ArrayShape("audio_frames", "integer", ("f",)),
            ArrayShape("audio_labels", "integer", ("C", "f")),
            ArrayShape("audio_predictions", "integer", ("C", "f")),
            ArrayShape("target_codes", "integer", ("C", "t"), or_empty=True),
            ArrayShape("predicted_codes", "integer", ("C", "p"), or_empty=True),
            ArrayShape("reference_codes", "integer", ("C", "r"), or_empty=True),
        ),
    ),
    AttentionSnapshot: KindConstraints(
        list_lengths=(("layers", "L"), ("heads", "H"), ("ffn_layers", "F")),
        arrays=(
            *(ArrayShape(name, "float", ("L", "H")) for name in _ATTENTION_TABLES),
            ArrayShape("max_weight_histogram", "integer", ("L", "H", "B")),
            *(ArrayShape(name, "float", ("F",)) for name in _FFN_TABLES),
        ),
    ),
    ZeroShotSnapshot: KindConstraints(
        list_lengths=tuple(
            (name, "n") for name in ("sample_ids", "speakers", "swapped_speakers", "languages", "swapped_languages")
        ),
        arrays=(
            ArrayShape("true_reference_loss", "float", ("n",)),
            ArrayShape("swapped_reference_loss", "float", ("n",)),
            ArrayShape("target_to_reference_attention", "float", ("n",), or_empty=True),
        ),
    ),
}
"""Message class -> what its fields must agree on; a kind without a row has no such fields."""



def _fast_check_source(rules: KindConstraints) -> str:
    """Straight-line Python for "every array is well-formed and the row holds": one line per
    list and a few per array, no loop and no call per dimension (4x faster than walking the
    table at run time). It only answers yes or no; the step-by-step check says what is wrong.

    A letter first met in a "may be empty" array is only set when that array is not ``[0]``, so it
    starts as ``None`` and the next array with it sets it or is held to it (as the step-by-step
    check's ``setdefault`` does)."""
    lines = ["def holds(m, max_elements):"]
    sizes: dict[str, bool] = {}
    """Letter -> whether it is surely set at this point of the function (False: it may be None)."""
    for field, letter in rules.list_lengths:
        if letter in sizes:
            lines.append(f"    if len(m.{field}) != d_{letter}: return False")
        else:
            sizes[letter] = True
            lines.append(f"    d_{letter} = len(m.{field})")
    for rule in rules.arrays:
        block = [f"s = ITEMSIZES_{rule.family}.get(a.dtype)", "sh = a.shape"]
        block.append(f"if s is None or len(sh) != {len(rule.dims)}: return False")
        for index, letter in enumerate(rule.dims):
            if sizes.get(letter):
                block.append(f"if sh[{index}] != d_{letter}: return False")
                continue
            setting = [f"d_{letter} = sh[{index}]", f"if d_{letter} < 0: return False"]
            if letter in sizes:  # set by an earlier optional array, or still None
                block.append(f"if d_{letter} is None:")
                block += [f"    {line}" for line in setting]
                block.append(f"elif sh[{index}] != d_{letter}: return False")
            else:
                if rule.or_empty:
                    lines.insert(1, f"    d_{letter} = None")
                block += setting
            sizes[letter] = not rule.or_empty
        block.append(f"e = {' * '.join(f'd_{letter}' for letter in rule.dims)}")
        block.append("if e > max_elements or len(a.data) != e * s: return False")
        if rule.family == "bool":
            block.append("if a.data.translate(None, BOOL_BYTES): return False")
        lines.append(f"    a = m.{rule.field}")
        if rule.or_empty:  # [0] with no data, or the row's shape
            lines.append(f"    if a.shape != [0] or a.dtype not in FAMILIES_{rule.family} or a.data:")
            lines += [f"        {line}" for line in block]
        else:
            lines += [f"    {line}" for line in block]
    lines.append("    return True")
    return "\n".join(lines)


def _compile(rules: KindConstraints) -> Callable[[object, int], bool]:
    namespace: dict = {
        **{f"ITEMSIZES_{name}": {d: WIRE_DTYPES[d].itemsize for d in dtypes} for name, dtypes in FAMILIES.items()},
        **{f"FAMILIES_{name}": dtypes for name, dtypes in FAMILIES.items()},
        "BOOL_BYTES": b"\x00\x01",
    }
    exec(_fast_check_source(rules), namespace)  # noqa: S102 - our own source, built from the table above
    return namespace["holds"]


_FAST_CHECKS = {cls: _compile(rules) for cls, rules in KIND_CONSTRAINTS.items()}
_OTHER_ARRAYS: dict[type, tuple[str, ...]] = {}
"""Message class without a row -> its Array fields (checked for well-formedness only)."""


def check_arrays(message: object, kind: str, max_elements: int) -> None:
    """Raise a typed error, with the field's path, unless every array of ``message`` is
    well-formed (:meth:`Array.check`) and its kind's row of :data:`KIND_CONSTRAINTS` holds.

    A valid message takes the fast path (:func:`_fast_check_source`); the step-by-step check
    below runs only to say what is wrong, in the order PROTOCOL.md §8 gives: list lengths, then
    each array in table order (well-formed, element family, shape), then the rows.
    """
    holds = _FAST_CHECKS.get(type(message))
    if holds is None:
        _check_other(message, kind, max_elements)
        return
    if not holds(message, max_elements):
        _check_step_by_step(message, kind, max_elements)
    rows = KIND_CONSTRAINTS[type(message)].rows
    if rows is not None:
        rows(message, kind)


def _check_other(message: object, kind: str, max_elements: int) -> None:
    fields = _OTHER_ARRAYS.get(type(message))
    if fields is None:
        fields = _OTHER_ARRAYS[type(message)] = tuple(
            f.name for f in msgspec.structs.fields(type(message)) if f.type is Array
        )
    for name in fields:
        getattr(message, name).check(max_elements, f"$.{name}", kind)


def _check_step_by_step(message: object, kind: str, max_elements: int) -> None:
    rules = KIND_CONSTRAINTS[type(message)]
    sizes: dict[str, int] = {}
    """Letter -> its size, set by the first list or array (in table order) that has it."""
    for field, letter in rules.list_lengths:
        length = len(getattr(message, field))
        if sizes.setdefault(letter, length) != length:
            raise InvalidMessage(
                f"{length} items, but {_origin(message, letter)} has {sizes[letter]}: both count {letter}",
                path=f"$.{field}",
                kind=kind,
            )
    for rule in rules.arrays:
        array: Array = getattr(message, rule.field)
        array.check(max_elements, f"$.{rule.field}", kind)
        if array.dtype not in FAMILIES[rule.family]:
            raise InvalidArray(f"dtype {array.dtype} is not {rule.family}", path=f"$.{rule.field}.dtype", kind=kind)
        shape = array.shape
        if rule.or_empty and shape == [0]:
            continue
        if len(shape) != len(rule.dims) or list(map(sizes.setdefault, rule.dims, shape)) != shape:
            raise _shape_error(message, rule.field, shape, rule.dims, sizes, kind)


def _origin(message: object, letter: str) -> str:
    """The path of the first field (in table order) whose size is ``letter``: where it was set."""
    rules = KIND_CONSTRAINTS[type(message)]
    for field, field_letter in rules.list_lengths:
        if field_letter == letter:
            return f"$.{field}"
    for array in rules.arrays:
        if letter in array.dims and getattr(message, array.field).shape != ([0] if array.or_empty else None):
            return f"$.{array.field}.shape"
    return "?"


def _shape_error(
    message: object, field: str, shape: list[int], dims: tuple[str, ...], sizes: dict[str, int], kind: str
) -> InvalidArray:
    letters = f"[{', '.join(dims)}]"
    if len(shape) != len(dims):
        reason = f"shape {shape} has {len(shape)} dimensions; {field} is {letters}"
    else:
        letter = next(d for d, s in zip(dims, shape) if sizes[d] != s)
        reason = (
            f"shape {shape} does not match {letters}: {letter} is {sizes[letter]} "
            f"(from {_origin(message, letter)})"
        )
    return InvalidArray(reason, path=f"$.{field}.shape", kind=kind)
