"""The object source: one object's bytes -> decode -> prepared windows, in stream order.

`ObjectWindows` reads the object on a thread of its own (`Reader.read`, ranged GETs that
resume), decompresses it there (ISA-L releases the GIL) into a small bounded queue, and
cuts and prepares the stream into `Window`s with a stage (`stage_for`: the object's first
bytes say its format; OCI audit JSON goes to the C fast path in threads, worker processes,
or this thread; bus-stop files and database exports to their readers, `formats`). What it
yields is what `pipeline.Pipeline` takes from any source.

- Damage the decoder reports (`DecodeFault`) ends what was decoded before it (a record it
  cuts is a reject of its own) and becomes one `DECODE_DAMAGE` reject, in stream order;
  the records decoded after it follow as usual.
- A read that fails for good yields every window the bytes read so far hold for sure, then
  raises the `SourceError` (a resume reads the rest again, cut the same way).
- Waiting for the reader ends `margin` before the deadline (a `SourceError` saying so,
  after the windows read so far): a stalled read never holds a run past it.
- `close()` stops the reader thread; the caller closes the stage.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from auditship.deadline import Deadline
from auditship.errors import AuditShipError, SourceError
from auditship.formats.options import FormatOptions
from auditship.formats.stage import SniffingStage, Stage
from auditship.model import ObjectRef, Reject, RejectKind
from auditship.sinks.base import Sink
from auditship.transforms import fastpath
from auditship.transforms.decode import DecodeFault, decode_stream
from auditship.transforms.normalize import Normalizer
from auditship.transforms.prepare import (
    OTHER,
    InlineStage,
    Item,
    ItemKind,
    PoolStage,
    Window,
    WindowedStage,
)

_QUEUE_CHUNKS = 4  # decompressed chunks buffered ahead of the parser (~1 MiB each)
_END = object()


class Reader(Protocol):
    """Where an object's bytes come from (`sources.local`, `sources.object_storage`,
    `sources.replay`). `head` looks the object up (its current ETag; `ObjectGoneError`
    when it no longer exists); `read` streams its bytes."""

    def head(self, obj: ObjectRef) -> ObjectRef: ...

    def read(self, obj: ObjectRef) -> Iterator[bytes]: ...


def stage_for(
    obj: ObjectRef,
    normalizer: Normalizer,
    sink: Sink,
    *,
    max_record_bytes: int,
    workers: int,
    fast_path: bool,
    formats: FormatOptions | None = None,
) -> SniffingStage:
    """How windows are prepared. The object's first bytes say its format
    (`formats.stage.SniffingStage`): a bus-stop file or a database export is read by its
    format's reader; OCI audit JSON by the C fast path in `workers` threads where it can
    run, else `workers` processes (more than one) or this thread. A process pool forks, so
    build the stage before any thread of the run starts."""
    json_stage: InlineStage | WindowedStage
    spec = fastpath.spec_for(normalizer, sink, max_record_bytes) if fast_path else None
    if spec is not None:
        json_stage = fastpath.NativeStage(obj, normalizer, sink, max_record_bytes, spec, workers)
    elif workers > 1:
        json_stage = PoolStage(obj, normalizer, sink, max_record_bytes, workers)
    else:
        json_stage = InlineStage(obj, normalizer, sink, max_record_bytes)
    options = formats or FormatOptions()
    return SniffingStage(json_stage, obj, normalizer, sink, options, max_record_bytes)


def reject_window(reject: Reject) -> Window:
    """A window holding one reject."""
    window = Window()
    window.kinds.append(OTHER)
    window.offsets.append(reject.offset)
    window.payloads.append(None)
    window.sizes.append(0)
    window.others.append(Item(ItemKind.REJECT, reject.offset, reject=reject))
    return window


class ObjectWindows:
    def __init__(
        self,
        obj: ObjectRef,
        reader: Reader,
        stage: Stage,
        progress: Callable[[int], None] | None = None,
        deadline: Deadline | None = None,
        margin: float = 0.0,
    ) -> None:
        self._deadline = deadline or Deadline.unlimited()
        self._margin = margin
        self._obj = obj
        self._reader = reader
        self._stage = stage
        self._progress = progress
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bytes_read = 0  # decompressed

    def __iter__(self) -> Iterator[Window]:
        chunks: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        decoded = decode_stream(self._reader.read(self._obj), self._obj.name)
        self._thread = threading.Thread(
            target=_read_ahead, args=(decoded, chunks, self._stop), daemon=True
        )
        self._thread.start()
        stage = self._stage
        while True:
            chunk = self._deadline.wait(lambda seconds: _get(chunks, seconds), self._margin)
            if chunk is None:  # the read is slower than the time left
                yield from stage.complete()
                raise SourceError(f"{self._obj}: reading: {self._deadline.why()}")
            if chunk is _END:
                break
            if type(chunk) is DecodeFault:
                yield from stage.finish()
                yield reject_window(self._fault_reject(chunk))
                continue
            if isinstance(chunk, BaseException):
                # Whatever was fully read is still worth delivering before stopping.
                yield from stage.complete()
                raise self._read_error(chunk)
            self.bytes_read += len(chunk)
            yield from stage.feed(chunk)
            if self._progress is not None:
                self._progress(self.bytes_read)
        yield from stage.finish()

    def _fault_reject(self, fault: DecodeFault) -> Reject:
        error = fault.error
        return Reject(
            self._obj.name,
            error.offset,
            str(error),
            fault.raw,
            stage="decode",
            kind=RejectKind.DECODE_DAMAGE,
        )

    def _read_error(self, exc: BaseException) -> AuditShipError:
        if isinstance(exc, AuditShipError):
            return exc
        return SourceError(f"{self._obj}: reading failed ({type(exc).__name__})")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _get(chunks: queue.Queue[Any], seconds: float) -> Any:
    try:
        return chunks.get(timeout=seconds)
    except queue.Empty:
        return None


def _read_ahead(chunks: Iterator[Any], out: queue.Queue[Any], stop: threading.Event) -> None:
    def put(item: Any) -> bool:
        # Never block for good: the consumer may have stopped reading (sink failure).
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for chunk in chunks:
            if not put(chunk):
                return
        put(_END)
    except BaseException as exc:  # delivered to the consumer, which handles it
        put(exc)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
