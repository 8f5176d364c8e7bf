"""A finding's line of findings.jsonl: written field by field for speed, it must stay the line
json.dumps writes (the format programs read). Run: ./run-tests tests/sink/test_findings.py"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from stratlog.sink.findings import OK, WARN, Finding, json_safe
from stratlog.sink.printable import printable_json

TEXTS = ["", "plain", "é ü 中文 😀", "del\x7f", "nel\x85 c1\x9f", "ls\u2028 ps\u2029", "nul\x00 us\x1f tab\t nl\n", '"\\/']
VALUES = [None, 0, -1, 2**70, True, 0.0, -0.0, 1e16, 1e-7, 123456789.123456789, float("nan"), float("-inf"),
          [1, float("inf")], (2, 3), {"a": float("nan"), 3: "x", 1.5: [-0.0], True: None}, {"nested": {"k": [{"z": 1e300}]}}]


def reference_line(finding: Finding) -> str:
    """The line as json.dumps writes it from the finding's fields, controls escaped."""
    record = {"run_id": finding.run_id, "rank": finding.rank, "step": finding.step, "analysis": finding.analysis,
              "check": finding.check, "severity": finding.severity, "reason": finding.reason, "value": json_safe(finding.value)}
    return printable_json(json.dumps(record, ensure_ascii=False, allow_nan=False))


@pytest.mark.parametrize("text", TEXTS)
def test_a_findings_line_is_the_json_dumps_line_of_its_fields(text):
    for value in VALUES:
        for run_id, rank, step in (("run" + text, 3, 10), (None, None, None), (text, 0, 0)):
            finding = Finding(run_id, rank, step, "input", "check" + text, WARN, "reason " + text, value)
            assert finding.to_json() == reference_line(finding)
            assert json.loads(finding.to_json())["reason"] == "reason " + text


def test_random_texts_and_numbers_give_the_json_dumps_line():
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(chr(rng.choice([rng.randrange(0x250), rng.randrange(0x7f, 0xa0), 0x2028, rng.randrange(0x20, 0x7f)]))
                       for _ in range(rng.randrange(20)))
        value = rng.choice([rng.random() * 10 ** rng.randrange(-30, 30), text, {text: rng.random()}, [text, rng.randrange(-9, 9)]])
        finding = Finding("run", rng.randrange(4), rng.randrange(100), "output", "check", OK, text, value)
        assert finding.to_json() == reference_line(finding)


def test_what_json_cannot_write_raises_as_json_dumps_does():
    with pytest.raises(TypeError):
        Finding("run", 0, 1, "input", "check", OK, "reason", object()).to_json()
    with pytest.raises(TypeError):
        Finding("run", 0, 1, "input", "check", OK, "reason", {"a": {1, 2}}).to_json()


def test_a_finding_is_frozen_and_equal_by_its_fields_however_built():
    """Finding fills its slots with its own __init__ (for speed): positional and keyword
    arguments, the default value, equality, hashing and immutability must be a dataclass's."""
    positional = Finding("run", 0, 1, "input", "check", WARN, "reason", 3)
    keywords = Finding(run_id="run", rank=0, step=1, analysis="input", check="check", severity=WARN, reason="reason",
                       value=3)
    assert positional == keywords and hash(positional) == hash(keywords)
    assert repr(keywords) == ("Finding(run_id='run', rank=0, step=1, analysis='input', check='check', severity='WARN', "
                              "reason='reason', value=3)")
    assert Finding(None, None, None, "stream", "check", OK, "reason").value is None
    assert positional != Finding("run", 0, 1, "input", "check", OK, "reason", 3)
    assert [getattr(keywords, field.name) for field in dataclasses.fields(Finding)] == [
        "run", 0, 1, "input", "check", WARN, "reason", 3]
    with pytest.raises(dataclasses.FrozenInstanceError):
        positional.severity = OK
    with pytest.raises(TypeError):
        Finding("run", 0, 1, "input", "check", OK)  # no reason
