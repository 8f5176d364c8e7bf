"""The seed's strategic-logging flags (and ours around them), for `HfArgumentParser`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StrategicLoggingArguments:
    enable_strategic_logging: bool = field(default=False, metadata={"help": "Send strategic snapshots to the sink."})
    strategic_logging_steps: int = field(default=100, metadata={"help": "Capture at step 1 and every N optimizer steps."})
    strategic_sink_address: str = field(
        default="tcp://127.0.0.1:5560", metadata={"help": "ZeroMQ address the sink binds (ranks connect PUSH to it)."}
    )

    def __post_init__(self):
        if self.strategic_logging_steps < 1:
            raise ValueError(f"--strategic_logging_steps must be >= 1, got {self.strategic_logging_steps}")
