"""Local files (the operator command and tests), read in chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator

from auditship.errors import SourceError
from auditship.model import ObjectRef

CHUNK_BYTES = 1024 * 1024


class LocalReader:
    def head(self, obj: ObjectRef) -> ObjectRef:
        if not os.path.isfile(obj.name):
            raise SourceError(f"{obj.name}: no such file")
        return obj

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        try:
            f = open(obj.name, "rb")  # noqa: SIM115 - closed in finally, generator lifetime
        except OSError as exc:
            raise SourceError(f"{obj.name}: cannot open ({exc.strerror})") from None
        try:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
        finally:
            f.close()
