"""The stage that reads an object in the format its first bytes show (`formats.detect`).

`SniffingStage` is what `sources.objects.stage_for` hands the object source: it holds the
first decompressed bytes (at most `SNIFF_BYTES`, usually just the first chunk) until the
format is known, then passes everything on:
- OCI audit JSON to the JSON stage it was built with (the C fast path, worker processes
  or this thread), unchanged;
- a bus-stop file or a database export to a `FormatStage`: the format's reader in this
  process, its records prepared by `sources.records.RecordWindows` (the same normalize and
  sink preparation as every other record), with the sink typing them as their format
  (`Sink.with_type`).

Both keep the stage contract of `transforms.prepare` (`feed`, `finish`, `complete`,
`close`): positions depend on the bytes only, so a resume counts them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Protocol

from auditship.formats.busstop import BusStopReader
from auditship.formats.csv_export import CsvExportReader
from auditship.formats.detect import SNIFF_BYTES, Format, detect
from auditship.formats.export_rows import ExportRows
from auditship.formats.options import FormatOptions
from auditship.formats.sqlcl_json import SqlclJsonReader
from auditship.formats.timestamps import zone_of
from auditship.model import ObjectRef, Reject
from auditship.sinks.base import Sink
from auditship.sources.records import RecordWindows
from auditship.transforms.normalize import Normalizer
from auditship.transforms.prepare import Window
from auditship.transforms.repair import Parsed


class Stage(Protocol):
    def feed(self, chunk: bytes) -> Iterator[Window]: ...

    def finish(self) -> Iterator[Window]: ...

    def complete(self) -> Iterator[Window]: ...

    def close(self) -> None: ...


class FormatReader(Protocol):
    def feed(self, chunk: bytes) -> Iterable[Parsed | Reject]: ...

    def finish(self) -> Iterable[Parsed | Reject]: ...


def reader_for(
    fmt: Format, obj: ObjectRef, options: FormatOptions, max_record_bytes: int
) -> tuple[FormatReader, str]:
    """The reader of a (non-JSON) format and the type its records get."""
    if fmt is Format.BUSSTOP:
        return BusStopReader(obj.name, max_record_bytes), options.fmw_type
    # The folder the export is in names its database when the rows do not (export_rows).
    folder = PurePosixPath(obj.name.replace("\\", "/")).parent.name
    rows = ExportRows(folder, zone_of(options.time_zone))
    if fmt is Format.CSV_EXPORT:
        return CsvExportReader(obj.name, rows, max_record_bytes), options.dbaudit_type
    if fmt is Format.SQLCL_JSON:
        return SqlclJsonReader(obj.name, rows, max_record_bytes), options.dbaudit_type
    raise ValueError(f"no reader for {fmt}")


class FormatStage:
    """A text format's records, read in this process and prepared in windows."""

    def __init__(
        self, reader: FormatReader, obj: ObjectRef, normalizer: Normalizer, sink: Sink
    ) -> None:
        self._reader = reader
        self._obj, self._sink = obj, sink
        # The action filter is for OCI audit records (data.request.action): these have
        # none, and would all be filtered (as the API collectors, collecting.py, know).
        options = replace(normalizer.options, actions=None)
        self._normalizer = Normalizer(options, stamped=True)

    def _windows(self, found: Iterable[Parsed | Reject]) -> RecordWindows:
        return RecordWindows(found, self._obj, self._normalizer, self._sink)

    def feed(self, chunk: bytes) -> Iterator[Window]:
        yield from self._windows(self._reader.feed(chunk))

    def finish(self) -> Iterator[Window]:
        yield from self._windows(self._reader.finish())

    def complete(self) -> Iterator[Window]:
        # Every complete line or item was handed out as it came; a resume reads the rest.
        return iter(())

    def close(self) -> None:
        pass


class SniffingStage:
    """Holds the first bytes until `detect` tells the format, then delegates (module doc)."""

    def __init__(
        self,
        json_stage: Stage,
        obj: ObjectRef,
        normalizer: Normalizer,
        sink: Sink,
        options: FormatOptions,
        max_record_bytes: int,
    ) -> None:
        self._json = json_stage
        self._other: Callable[[Format], Stage] = lambda fmt: _format_stage(
            fmt, obj, normalizer, sink, options, max_record_bytes
        )
        self._stage: Stage | None = None
        self._head = b""
        self.format: Format | None = None

    def _decide(self, final: bool) -> Iterator[Window]:
        fmt = detect(self._head[:SNIFF_BYTES], final)
        if fmt is None:
            return
        self.format = fmt
        self._stage = self._json if fmt is Format.AUDIT_JSON else self._other(fmt)
        head, self._head = self._head, b""
        if head:
            yield from self._stage.feed(head)

    def feed(self, chunk: bytes) -> Iterator[Window]:
        if self._stage is not None:
            yield from self._stage.feed(chunk)
            return
        self._head += chunk
        yield from self._decide(final=False)

    def finish(self) -> Iterator[Window]:
        if self._stage is None:
            if not self._head:
                # Nothing decoded yet (a damaged first gzip member, or an empty object):
                # the bytes after the damage decide, not its absence.
                return
            yield from self._decide(final=True)
        assert self._stage is not None
        yield from self._stage.finish()

    def complete(self) -> Iterator[Window]:
        # Undecided means less than the first line was read: nothing is complete yet.
        if self._stage is not None:
            yield from self._stage.complete()

    def close(self) -> None:
        self._json.close()
        if self._stage is not None and self._stage is not self._json:
            self._stage.close()


def _format_stage(
    fmt: Format,
    obj: ObjectRef,
    normalizer: Normalizer,
    sink: Sink,
    options: FormatOptions,
    max_record_bytes: int,
) -> FormatStage:
    reader, record_type = reader_for(fmt, obj, options, max_record_bytes)
    return FormatStage(reader, obj, normalizer, sink.with_type(record_type))
