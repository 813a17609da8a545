"""Dead-letter parts read back as the records they hold (`--dead-letters`).

See `DeadLetterReplayReader`. The parts are what `delivery.deadletter.DeadLetterWriter`
writes: one letter (`Reject.to_json_dict()`) per line.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson

from auditship.errors import SourceError
from auditship.model import ObjectRef

if TYPE_CHECKING:
    from auditship.sources.objects import Reader

log = logging.getLogger(__name__)


class DeadLetterReplayReader:
    """Reads dead-letter parts through another reader and yields the records they hold, one
    per line, so the usual pipeline ships them again (`ship.py --dead-letters`).

    Only letters of records a sink refused or could not take (`stage` "sink": complete JSON
    records) are replayed: each is its own line, so no letter can run into the next. Letters
    of bytes that were not JSON (`repair`) or could not be decompressed (`decode`) would be
    rejected again, or worse, be glued to their neighbours into something else: they are
    counted (`not_replayed`), logged, and stay in their part, which is never deleted. A line
    that is not a dead letter at all, or one longer than `MAX_LETTER_BYTES`, is a
    `SourceError`: the wrong file was given."""

    def __init__(self, inner: Reader) -> None:
        self._inner = inner
        self.not_replayed = 0

    def head(self, obj: ObjectRef) -> ObjectRef:
        return self._inner.head(obj)

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        tail = b""
        number = 0
        skipped = 0
        try:
            for chunk in self._inner.read(obj):
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                if len(tail) > MAX_LETTER_BYTES:
                    raise SourceError(f"{obj}: line {number + 1} is not a dead letter (too long)")
                out = []
                for line in lines:
                    number += 1
                    record = _replayable(line, obj, number) if line.strip() else b""
                    if record:
                        out.append(record)
                    elif line.strip():
                        skipped += 1
                if out:
                    yield b"".join(out)
            if tail.strip():
                record = _replayable(tail, obj, number + 1)
                if record:
                    yield record
                else:
                    skipped += 1
        finally:  # counted even when the pipeline stops reading early
            self.not_replayed += skipped
            if skipped:
                log.warning(
                    "%s: %d letters not replayed (bytes that were not JSON or could not be "
                    "decompressed); they stay in this part",
                    obj,
                    skipped,
                )


# A letter holds at most 1 MiB of raw bytes (base64: 1.4 MiB) or one record of at most
# MAX_RECORD_BYTES (64 MiB at most), escaped.
MAX_LETTER_BYTES = 256 * 1024 * 1024


def _replayable(line: bytes, obj: ObjectRef, number: int) -> bytes:
    """The record a sink letter holds, as one line; b"" for letters not replayed."""
    try:
        letter = orjson.loads(line)
        if "object" not in letter or ("raw" not in letter and "raw_base64" not in letter):
            raise ValueError("not a dead letter")
        if letter.get("stage") != "sink":
            return b""
        raw = letter.get("raw")
        data = (
            raw.encode("utf-8", "surrogatepass")
            if isinstance(raw, str)
            else base64.b64decode(letter["raw_base64"], validate=True)
        )
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        raise SourceError(f"{obj}: line {number} is not a dead letter") from None
    if not data.strip() or b"\n" in data or b"\r" in data:
        return b""  # not one record on one line: leave it where it is
    return data + b"\n"
