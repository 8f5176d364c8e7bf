"""`--report-to tensorboard`: one event-file folder per training run, <log-dir>/tensorboard/<run id>/.

Written with TensorBoard's own event writer and protos (the `tensorboard` package, extra
`stratlog[tensorboard]`; TensorFlow and torch are not needed): scalars as simple values, the
decoded texts as text summaries the Text tab shows, the run start's configuration as one text.
Point `tensorboard --logdir <log-dir>/tensorboard` at it: each run is one TensorBoard run.
"""

from __future__ import annotations

import json
from pathlib import Path

from stratlog.sink.report.records import Record, RunClosed, RunOpened, Scalars, Texts


class TensorBoardWriter:
    name = "tensorboard"

    def __init__(self, root: Path):
        # imported here: the sink runs without the extra unless --report-to asks for it
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
        from tensorboard.plugins.text import metadata as text_metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.root = root
        self._event, self._summary, self._tensor, self._types = event_pb2, summary_pb2, tensor_pb2, types_pb2
        self._text_metadata = text_metadata.create_summary_metadata("", "")
        self._new_file_writer = EventFileWriter
        self._files: dict[str, object] = {}

    def write(self, record: Record) -> None:
        if isinstance(record, RunClosed):
            if (file := self._files.pop(record.run_id, None)) is not None:
                file.close()
            return
        if isinstance(record, RunOpened):
            self._add(record.run_id, 0, 0.0, [self._text_value("run/config", json.dumps(record.config, indent=1,
                                                                                        default=str))])
        elif isinstance(record, Scalars):
            Value = self._summary.Summary.Value
            self._add(record.run_id, record.step, record.wall_time,
                      [Value(tag=tag, simple_value=value) for tag, value in record.values.items()])
        elif isinstance(record, Texts):
            self._add(record.run_id, record.step, record.wall_time,
                      [self._text_value(tag, text) for tag, text in record.values.items()])

    def _text_value(self, tag: str, text: str):
        tensor = self._tensor.TensorProto(dtype=self._types.DT_STRING, string_val=[text.encode("utf-8")])
        return self._summary.Summary.Value(tag=tag, metadata=self._text_metadata, tensor=tensor)

    def _add(self, run_id: str, step: int, wall_time: float, values: list) -> None:
        if not values:
            return
        file = self._files.get(run_id)
        if file is None:
            file = self._files[run_id] = self._new_file_writer(str(self.root / run_id))
        file.add_event(self._event.Event(wall_time=wall_time, step=step, summary=self._summary.Summary(value=values)))

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()
