"""The tagged union of every message kind, and the lookup tables the codec needs.

Kept apart from the kind modules so that adding a kind is one class plus one line here.
"""

from __future__ import annotations

from stratlog.protocol.events import ErrorEvent, Heartbeat, Metrics, RunEnd, RunStart
from stratlog.protocol.snapshots import (
    AttentionSnapshot,
    InputSnapshot,
    OutputSnapshot,
    ZeroShotSnapshot,
)

Message = (
    RunStart
    | Metrics
    | InputSnapshot
    | OutputSnapshot
    | AttentionSnapshot
    | ZeroShotSnapshot
    | ErrorEvent
    | Heartbeat
    | RunEnd
)
"""Any protocol message; ``msg.__struct_config__.tag`` (or :func:`kind_of`) gives its kind."""

MESSAGE_TYPES: dict[str, type] = {cls.__struct_config__.tag: cls for cls in Message.__args__}
"""Kind tag -> message class."""


def kind_of(message: Message) -> str:
    """The wire ``kind`` of a message, e.g. ``"metrics"``."""
    return message.__struct_config__.tag
