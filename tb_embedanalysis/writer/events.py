"""A TensorBoard events file written with plain file I/O: no TensorFlow needed or imported.

TensorBoard's own `EventFileWriter` opens its file through ``tensorboard.compat.tf``, which
imports TensorFlow when it is installed (seconds, and gigabytes for GPU builds). Here the
records are framed by TensorBoard's `RecordWriter` (tfrecord framing with masked CRC32C)
around ordinary `Event` protos, the same bytes `tensorboard.summary.Writer` produces.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from typing import Optional

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

_FILE_SUFFIX = ".embedanalysis"
_uids = itertools.count()


def has_events_file(logdir: str) -> bool:
    """True if `logdir` itself holds an events file, i.e. TensorBoard lists it as a run."""
    try:
        return any("tfevents" in entry for entry in os.listdir(logdir))
    except FileNotFoundError:
        return False


class EventsFile:
    """A new events file in `logdir`; scalars written through it appear in the Scalars tab.

    Use as a context manager (or call `close`); every `add_scalar` is buffered until
    `flush`/`close`. Not thread-safe, like TensorBoard's own writers.
    """

    def __init__(self, logdir: str):
        os.makedirs(logdir, exist_ok=True)
        # Same name pattern as TensorBoard's writers; a zero-padded counter keeps files
        # of one process in creation order when sorted by name (TensorBoard's loader
        # moves on to the next file in sorted order).
        self.path = os.path.join(
            logdir,
            "events.out.tfevents.%010d.%s.%d.%06d%s"
            % (time.time(), socket.gethostname(), os.getpid(), next(_uids), _FILE_SUFFIX),
        )
        self._records = RecordWriter(open(self.path, "wb"))
        self._write(
            event_pb2.Event(
                wall_time=time.time(),
                file_version="brain.Event:2",
                source_metadata=event_pb2.SourceMetadata(writer="tb_embedanalysis"),
            )
        )
        self.flush()

    def add_scalar(
        self, tag: str, value: float, step: int, *, wall_time: Optional[float] = None
    ) -> None:
        """One point of the scalar series `tag` (stored as a float32 tensor, like TF2)."""
        event = event_pb2.Event(
            wall_time=time.time() if wall_time is None else wall_time, step=int(step)
        )
        event.summary.value.add(
            tag=tag,
            tensor=tensor_util.make_tensor_proto(np.float32(value)),
            metadata=scalar_metadata.create_summary_metadata(display_name=tag, description=""),
        )
        event.summary.value[0].metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
        self._write(event)

    def _write(self, event: event_pb2.Event) -> None:
        self._records.write(event.SerializeToString())

    def flush(self) -> None:
        self._records.flush()

    def close(self) -> None:
        if not self._records.closed:
            self._records.close()

    def __enter__(self) -> "EventsFile":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def ensure_events_file(logdir: str) -> None:
    """Give `logdir` an events file if it has none, so TensorBoard lists it as a run."""
    if not has_events_file(logdir):
        EventsFile(logdir).close()
