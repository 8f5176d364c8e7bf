"""The one table of snapshot kinds: everything the sink and its dashboard do with each kind.

A rank sends a few kinds of strategic snapshot on a capture step (input, output, attention /
DualFFN, zero-shot). A row here says, for one kind, which protocol class it arrives as, which
analysis judges it, how the human log renders it, what the dashboard shows of it beyond the raw
snapshot, and the key and title it is shown under. The pipeline, the log entries, the dashboard
model and view and the Textual dashboard all read this table and list no kind themselves, so a
new kind is one row here plus the module that holds its analysis (sink/README.md, "Adding a
snapshot kind"). Row order is the order everywhere: sections of a log entry, panels, tabs.

Readers look the table up when they use it (`snapshot_kinds.SNAPSHOT_KINDS`, `kind_of_snapshot`)
rather than copying it at import, so a test can add a row for its duration; only the dashboard's
number keys are bound once, when its screen class is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from stratlog.protocol import AttentionSnapshot, InputSnapshot, OutputSnapshot, ZeroShotSnapshot
from stratlog.sink import human_log
from stratlog.sink.analysis import attention, output, zero_shot
from stratlog.sink.analysis import input as input_analysis
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import Finding
from stratlog.sink.token_decoding import token_regions


class Analysis(Protocol):
    """What every analysis is: one per pipeline, so the history a trend needs is that pipeline's;
    the state analyses share (the same step's input, the run's tokenizer) is in the context."""

    def evaluate(self, message: Any, context: RunContext) -> list[Finding]: ...


@dataclass(frozen=True)
class SnapshotKind:
    key: str
    """The kind's name past the wire (its analysis module's ANALYSIS): its findings' `analysis`,
    its dashboard panel, tab and capture slot, its section's place in a log entry."""
    message: type
    """The protocol message class it arrives as (a `msgspec.Struct` with the envelope)."""
    analysis: Callable[[], Analysis]
    """Makes its analysis (usually the class)."""
    section: Callable[[Any, list[Finding], RunContext], str]
    """Renders one snapshot and its findings as a tree of the human log (`human_log.tree`)."""
    title: str
    """The dashboard's panel title."""
    findings_title: str = ""
    """Title of the findings in its dashboard tab; "": the panel title + " findings"."""
    readings: Callable[[Any, RunContext], Any] | None = None
    """What the dashboard draws besides the raw snapshot, computed by the sink so that no viewer
    computes or judges anything: decoded tokens, per-row verdicts. None: the snapshot alone."""

    def __post_init__(self) -> None:
        if not self.findings_title:
            object.__setattr__(self, "findings_title", f"{self.title} findings")  # frozen: set once, here


SNAPSHOT_KINDS: tuple[SnapshotKind, ...] = (
    SnapshotKind(input_analysis.ANALYSIS, InputSnapshot, input_analysis.InputAnalysis, human_log.input_section, "Input",
                 readings=token_regions),
    SnapshotKind(output.ANALYSIS, OutputSnapshot, output.OutputAnalysis, human_log.output_section, "Output"),
    SnapshotKind(attention.ANALYSIS, AttentionSnapshot, attention.AttentionAnalysis, human_log.attention_section,
                 "Shared attn / DualFFN", findings_title="Attention / DualFFN findings",
                 readings=attention.ffn_table_verdicts),
    SnapshotKind(zero_shot.ANALYSIS, ZeroShotSnapshot, zero_shot.ZeroShotAnalysis, human_log.zero_shot_section,
                 "Zero-shot", readings=zero_shot.effect_rows),
)
"""Every snapshot kind, in the seed's order (input, output, attention, zero-shot)."""


def kind_of_snapshot(message) -> SnapshotKind | None:
    """The row of `message`'s class; None for a message that is not a snapshot (an event)."""
    for kind in SNAPSHOT_KINDS:  # a plain loop: once per message, and 3x cheaper than next() over a generator
        if type(message) is kind.message:
            return kind
    return None
