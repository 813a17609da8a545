"""Local files (the operator command and tests), read in chunks; `-` (or `/dev/stdin`) is
standard input, read once."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace

from auditship.errors import SourceError
from auditship.model import ObjectRef

CHUNK_BYTES = 1024 * 1024
STDIN_NAMES = ("-", "/dev/stdin")


class LocalReader:
    def head(self, obj: ObjectRef) -> ObjectRef:
        """`obj` with an ETag made of the file's size and modification time (a changed
        file is another version: its progress starts over); none for standard input."""
        if obj.name in STDIN_NAMES:
            return obj
        if not os.path.isfile(obj.name):
            raise SourceError(f"{obj.name}: no such file")
        stat = os.stat(obj.name)
        return replace(obj, etag=f"{stat.st_size}-{stat.st_mtime_ns}")

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        if obj.name in STDIN_NAMES:
            yield from iter(lambda: sys.stdin.buffer.read(CHUNK_BYTES), b"")
            return
        try:
            f = open(obj.name, "rb")  # noqa: SIM115 - closed in finally, generator lifetime
        except OSError as exc:
            raise SourceError(f"{obj.name}: cannot open ({exc.strerror})") from None
        try:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
        finally:
            f.close()
