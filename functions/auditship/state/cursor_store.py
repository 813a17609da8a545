"""Where an API source's cursor book and unit markers are kept: a local folder (operator
runs, `--state-dir DIR`) or a prefix of a bucket (functions, `oci://ns/bucket/prefix/`).

`StateLocation.parse` reads the flag; `open_state` gives the ledger for the units (done
and progress markers, leases) and the store of the cursor book. The book is written with
a plain PUT by whoever holds the source's lease (`book_ref`), so there is one writer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

from auditship.errors import ConfigError, SourceError
from auditship.model import ObjectRef
from auditship.objectstore import get_small_object, put_small_object
from auditship.sources.address import parse_source
from auditship.state.ledger import Ledger, LocalUnitLedger, ObjectStorageLedger
from auditship.timeouts import watch_client


class BookStore(Protocol):
    def read(self) -> bytes | None: ...
    def write(self, body: bytes) -> None: ...


@dataclass(frozen=True)
class StateLocation:
    """A local folder (`bucket` empty) or `oci://namespace/bucket/prefix/`."""

    folder: str = ""
    namespace: str = ""
    bucket: str = ""
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> StateLocation:
        if not text.startswith("oci://"):
            return cls(folder=text)
        ref, _ = parse_source(text if text.endswith("/") else text + "/")
        if not ref.bucket:
            raise ConfigError(f"state location {text}: expected oci://namespace/bucket/prefix/")
        return cls(namespace=ref.namespace, bucket=ref.bucket, prefix=ref.name)

    @property
    def is_local(self) -> bool:
        return not self.bucket

    def ref(self, name: str, etag: str = "") -> ObjectRef:
        """A unit's reference: the ledger keys its markers by this name and ETag."""
        return ObjectRef(name, self.namespace, self.bucket, etag)

    def __str__(self) -> str:
        return (
            self.folder if self.is_local else f"oci://{self.namespace}/{self.bucket}/{self.prefix}"
        )


class LocalBookStore:
    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write(self, body: bytes) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SourceError(f"writing {self.path} failed ({exc.strerror})") from None


class ObjectBookStore:
    def __init__(self, client: Any, ref: ObjectRef) -> None:
        self._client = watch_client(client)
        self._ref = ref

    def read(self) -> bytes | None:
        return get_small_object(self._client, self._ref, self._ref.name, "reading the cursors")

    def write(self, body: bytes) -> None:
        what = "writing the cursors"
        put_small_object(self._client, self._ref, self._ref.name, body, "application/json", what)


def book_ref(location: StateLocation, source: str) -> ObjectRef:
    """The unit whose lease is the source's: one run of a source at a time writes cursors."""
    return location.ref(f"{source}/cursors", "book")


def open_state(
    location: StateLocation, source: str, storage: Any = None
) -> tuple[Ledger, BookStore]:
    if location.is_local:
        path = os.path.join(location.folder, source, "cursors.json")
        return LocalUnitLedger(location.folder), LocalBookStore(path)
    if storage is None:
        raise ConfigError(f"state in {location} needs Object Storage access")
    ref = location.ref(f"{location.prefix}{source}/cursors.json")
    return ObjectStorageLedger(storage, location.prefix), ObjectBookStore(storage, ref)
