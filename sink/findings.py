"""Findings: the sink's verdicts, one per check, each OK / WARN / FAIL (or PENDING) with a reason.

Every analysis (stream health, metrics, input, output, attention / DualFFN, zero-shot) returns
`Finding`s. A finding is what a person acts on, so its `reason` names the cause and what to
check; `value` is the measurement behind it (a number, or a small JSON-able table). The JSON
form is one line of `findings.jsonl`; it holds nothing from the sink's wall clock, so replaying
a recording writes the same bytes.

PENDING is neither OK nor a problem: a check that needs training time (a trend, "the model uses
the reference voice") says what it sees so far and the step from which it is judged ("pending
until step 140"), instead of a WARN that a healthy run raises during its first steps.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from json.encoder import encode_basestring
from typing import Any

from stratlog.sink.printable import printable_json

OK = "OK"
WARN = "WARN"
FAIL = "FAIL"
PENDING = "PENDING"
"""A check inside its grace: what it measured so far, not yet a verdict (below OK in the summary)."""


@dataclass(frozen=True, slots=True, init=False)
class Finding:
    """One verdict of one check about one rank (or about the stream, rank None) at one step.

    Frozen and slotted; its `__init__` (below the class) fills the slots through their
    descriptors: a frozen dataclass's own calls `object.__setattr__` per field, three times the
    cost, and every analysis builds a few findings per message."""

    run_id: str | None
    rank: int | None
    step: int | None
    analysis: str
    """``stream``, ``metrics``, ``input``, ``output``, ``attention``, ``zero_shot``."""
    check: str
    """Stable name of the check within its analysis, e.g. ``reference_audio``."""
    severity: str
    """OK, WARN, FAIL, or PENDING (a check that needs time, inside its grace)."""
    reason: str
    """What was seen, its likely cause, and what to check."""
    value: Any = None
    """The measurement behind the verdict (JSON-able), or None."""

    def to_json(self) -> str:
        """`json.dumps(record, ensure_ascii=False, allow_nan=False)` of the finding's fields in
        this order, with control characters escaped (`printable_json`); written out field by
        field, since a findings line is written for every finding of every rank. A finding of
        the usual types (a run, rank and step, text fields of text) takes one f-string, with
        no call per field."""
        run_id, rank, step, analysis, check, severity, reason = (
            self.run_id, self.rank, self.step, self.analysis, self.check, self.severity, self.reason)
        if (type(run_id) is str and type(rank) is int and type(step) is int and type(analysis) is str
                and type(check) is str and type(severity) is str and type(reason) is str):
            line = (f'{{"run_id": {encode_basestring(run_id)}, "rank": {int.__repr__(rank)}, '
                    f'"step": {int.__repr__(step)}, "analysis": {encode_basestring(analysis)}, '
                    f'"check": {encode_basestring(check)}, "severity": {encode_basestring(severity)}, '
                    f'"reason": {encode_basestring(reason)}, "value": {_json_value(self.value)}}}')
        else:
            line = (f'{{"run_id": {_json(run_id)}, "rank": {_json(rank)}, "step": {_json(step)}, '
                    f'"analysis": {_json(analysis)}, "check": {_json(check)}, "severity": {_json(severity)}, '
                    f'"reason": {_json(reason)}, "value": {_json_value(self.value)}}}')
        # ASCII but DEL holds nothing printable_json escapes: most lines skip its regex scan.
        return line if line.isascii() and "\x7f" not in line else printable_json(line)


def _finding_init(self: Finding, run_id: str | None, rank: int | None, step: int | None, analysis: str, check: str,
                  severity: str, reason: str, value: Any = None) -> None:
    _set_run_id(self, run_id)
    _set_rank(self, rank)
    _set_step(self, step)
    _set_analysis(self, analysis)
    _set_check(self, check)
    _set_severity(self, severity)
    _set_reason(self, reason)
    _set_value(self, value)


(_set_run_id, _set_rank, _set_step, _set_analysis, _set_check, _set_severity, _set_reason,
 _set_value) = (vars(Finding)[field.name].__set__ for field in fields(Finding))
Finding.__init__ = _finding_init

_ENCODE = json.encoder.c_make_encoder(None, json.JSONEncoder().default, encode_basestring, None, ": ", ", ",
                                      False, False, False)
"""The C encoder `json.dumps(value, ensure_ascii=False, allow_nan=False)` makes on every call,
made once: the same text for any value without cycles (`json_safe` makes new containers, and
recurses without end on a cycle before this would see it)."""


def _json(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, allow_nan=False)`: None, str, int and a finite float
    written as json writes them; anything else by the C encoder (json.dumps builds one per call)."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return "".join(_ENCODE(value, 0))


def _json_value(value: Any) -> str:
    """`_json(json_safe(value))`, with a float (most values) written without the two calls."""
    if type(value) is float:
        return float.__repr__(value) if math.isfinite(value) else encode_basestring(str(value))
    return _json(json_safe(value))


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: spell them as strings ("nan", "inf", "-inf")."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    # a finite float item (most of a finding's tables) is kept without a call of its own
    if isinstance(value, dict):
        return {str(key): item if type(item) is float and math.isfinite(item) else json_safe(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [item if type(item) is float and math.isfinite(item) else json_safe(item) for item in value]
    return value


def rounded(value: float, digits: int = 4) -> float:
    """Values in findings keep `digits` significant digits so the JSON stays readable without
    turning a small measurement (an update ratio of 3e-6) into 0; NaN/inf pass through (as
    floats: "nan", "inf" and "-inf" read back as themselves, so they need no test first)."""
    return float(f"{value:.4g}" if digits == 4 else f"{value:.{digits}g}")
