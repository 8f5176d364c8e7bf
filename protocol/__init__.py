"""stratlog's wire protocol: typed messages, their msgpack frames, and the recording format.

Everything a training rank sends and a sink receives, records and replays is defined here, and
nothing here depends on the rest of stratlog (nor on torch or textual), so that the trainer,
the sink and programs in other languages meet in one small, documented place: PROTOCOL.md is
the specification, this package its reference implementation.
"""

from stratlog.protocol.arrays import WIRE_DTYPES, Array
from stratlog.protocol.codec import MessageDecoder, decode, encode
from stratlog.protocol.envelope import PROTOCOL_MAJOR, PROTOCOL_MINOR, Envelope
from stratlog.protocol.errors import (
    FrameTooLarge,
    InvalidArray,
    InvalidMessage,
    LimitExceeded,
    MalformedFrame,
    ProtocolError,
    RecordingError,
    UnknownKind,
    UnsupportedVersion,
)
from stratlog.protocol.events import ErrorEvent, Heartbeat, Metrics, RunEnd, RunStart, TokenizerIdentity, vocabulary_digest
from stratlog.protocol.limits import DEFAULT_LIMITS, MAX_ITEMS, MAX_NDIM, MAX_STRING_LENGTH, Limits
from stratlog.protocol.messages import MESSAGE_TYPES, Message, kind_of
from stratlog.protocol.recording import Damage, FileHeader, Record
from stratlog.protocol.recording_reader import RecordingReader
from stratlog.protocol.recording_writer import RecordingWriter
from stratlog.protocol.snapshots import (
    AttentionSnapshot,
    AudioSegment,
    InputSnapshot,
    OutputSnapshot,
    TensorInfo,
    ZeroShotSnapshot,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_ITEMS",
    "MAX_NDIM",
    "MAX_STRING_LENGTH",
    "MESSAGE_TYPES",
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "WIRE_DTYPES",
    "Array",
    "AttentionSnapshot",
    "AudioSegment",
    "Damage",
    "Envelope",
    "ErrorEvent",
    "FileHeader",
    "FrameTooLarge",
    "Heartbeat",
    "InputSnapshot",
    "InvalidArray",
    "InvalidMessage",
    "LimitExceeded",
    "Limits",
    "MalformedFrame",
    "Message",
    "MessageDecoder",
    "Metrics",
    "OutputSnapshot",
    "ProtocolError",
    "Record",
    "RecordingError",
    "RecordingReader",
    "RecordingWriter",
    "RunEnd",
    "RunStart",
    "TensorInfo",
    "TokenizerIdentity",
    "UnknownKind",
    "UnsupportedVersion",
    "ZeroShotSnapshot",
    "decode",
    "encode",
    "kind_of",
    "vocabulary_digest",
]
