"""The envelope: the fields every message carries, and the protocol version.

Every message kind subclasses :class:`Envelope`, so a receiver can always tell who sent a message
(run, rank), in what order (``seq``), for which training step, and whether messages were lost
(``dropped`` and gaps in ``seq``) without knowing the kind. Versioning rules live in
PROTOCOL.md ("Versioning"): within one major version fields are only ever added, at the end,
with defaults, and never change type; receivers ignore keys they do not know.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from stratlog.protocol.limits import INT_MAX, Count, Text

PROTOCOL_MAJOR = 1
"""Bumped for changes old receivers cannot read; receivers refuse a newer major."""

PROTOCOL_MINOR = 3
"""Bumped for compatible additions (new fields with defaults, new kinds); receivers accept newer.
1.1 added `AudioSegment.repeated_code_share`, 1.2 `RunStart.tokenizer_identity`, 1.3
`AudioSegment.pair_similarity` and `OutputSnapshot`'s whole-clip code tables."""


class Envelope(msgspec.Struct, kw_only=True, tag_field="kind"):
    """Fields common to every message; on the wire they follow the ``kind`` tag."""

    version: Count = PROTOCOL_MAJOR
    """Major protocol version of the sender."""
    minor: Count = PROTOCOL_MINOR
    """Minor protocol version of the sender."""
    run_id: Text
    """Identifies one training run; the same on every rank."""
    rank: Count
    """Global rank of the sender (0 .. world_size - 1)."""
    world_size: Annotated[int, Meta(ge=1, le=INT_MAX)]
    """Number of ranks in the run."""
    seq: Count
    """Per-rank sequence number: 0 for the rank's first message, +1 for every message the rank
    tried to send, delivered or dropped; a gap larger than ``dropped`` means loss in transit."""
    step: Count
    """Global optimizer step after the step the message describes (0 before training)."""
    time: float
    """When the sender built the message, Unix seconds."""
    dropped: Count = 0
    """Messages this rank dropped (send queue full) since its previous delivered message."""
