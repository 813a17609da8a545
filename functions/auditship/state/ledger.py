"""Ledger: what has already been shipped, so a second event or a replay sends nothing twice.

Two small JSON objects per source object version, in the same bucket:
- `<prefix><object name>@<etag>.done`: written once every record of that version was
  delivered or dead-lettered. A later event for the same object and ETag ships nothing.
- `<prefix><object name>@<etag>.progress`: `{"handled_through": N, "dead_lettered": [...]}`
  written when a call stops early (deadline, sink outage). Records 0..N-1 in object order
  were delivered or dead-lettered; a re-run skips them and resumes at record N. The
  positions listed in `dead_lettered` (at most `MAX_LISTED_DEAD_LETTERS`, all >= N) were
  dead-lettered past N before the call stopped: a re-run skips those too, so a dead letter
  is not written twice (and not replayed twice).

- `<prefix><object name>@<etag>.lease`: `{"holder": ..., "expires": epoch}`, taken with a
  conditional PUT (`if-none-match: *`, or `if-match` on an expired lease) before shipping,
  so two invocations for the same object at the same moment (a duplicate event) do not both
  ship it; the loser reports "in progress elsewhere" as a failure, and its retry finds the
  done marker. A lease lasts `LEASE_SECONDS` and its holder renews it while it runs
  (`renew`, conditional on its own version), so the lease of a holder that died is stale
  soon after; `force` takes over a live one (logged). A holder whose renewal finds another
  holder stops (`LeaseLostError`). Released by overwriting with an expired lease
  (functions may not delete).

`LocalLedger` keeps progress markers and leases of local files in a state folder, so an
operator run that stopped resumes too; a local file that was shipped completely is not
remembered (running the command again ships it again, as a command line is expected to).

Keys use the ETag because Object Storage overwrites keep the name: a new version under
the same name is a new object to ship.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from auditship.errors import AuditShipError, SourceError
from auditship.model import ObjectRef
from auditship.objectstore import (
    get_small_object,
    get_small_object_with_etag,
    list_names,
    put_small_object,
)
from auditship.timeouts import watch_client

log = logging.getLogger(__name__)

MAX_LISTED_DEAD_LETTERS = 10_000  # past that, a re-run may write some dead letters again
# How positions are numbered (by the splitter and the decoder). Raised whenever that
# changes, so a marker written by another release is not resumed at the wrong record:
# 2 = byte-order marks dropped, junk joined into one reject, a record before junk kept.
NUMBERING = 2
LEASE_SECONDS = 120.0  # a lease not renewed for this long is stale (its holder died)
# The name of every marker and lease, whatever prefix a function was configured with.
LEDGER_OBJECT = re.compile(r"@[A-Za-z0-9._-]+\.(?:done|progress|lease)\Z")
_DONE_NAME = re.compile(r"@([A-Za-z0-9._-]+)\.done\Z")


@dataclass(frozen=True)
class Progress:
    """How far an earlier call got: see the module docstring."""

    handled_through: int = 0
    dead_lettered: frozenset[int] = field(default_factory=frozenset)
    # API sources: what the records before `handled_through` were (see
    # sources.api_records.ResumeGuard), so a resume notices when the API answers in
    # another order. Empty for objects, whose bytes are fixed by their ETag.
    fingerprint: str = ""


class LeaseLostError(AuditShipError):
    """Another run holds this object's lease now (it took over a stale or forced lease)."""


class Ledger(Protocol):
    def is_done(self, obj: ObjectRef) -> bool: ...
    def progress(self, obj: ObjectRef) -> Progress: ...
    def save_progress(self, obj: ObjectRef, progress: Progress) -> None: ...
    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None: ...
    def acquire(self, obj: ObjectRef, seconds: float, force: bool = False) -> float | None:
        """Take the object's lease for `seconds`; None when taken, else the epoch time at
        which the current holder's lease expires. `force` takes a live lease over."""
        ...

    def renew(self, obj: ObjectRef, seconds: float) -> None:
        """Extend our lease; `LeaseLostError` when another run holds it now."""
        ...

    def release(self, obj: ObjectRef) -> None: ...

    def done_info(self, obj: ObjectRef) -> dict[str, Any] | None:
        """What the done marker of `obj` says (the summary it was written with), or None
        when there is none (or done markers are not kept)."""
        ...

    def done_versions(self, obj: ObjectRef, under: str, start: str = "") -> set[tuple[str, str]]:
        """(name, etag) of every done marker whose name starts with `under` and, past that,
        sorts at or after `start`, in one listing (not one request per unit); `obj` says
        which bucket."""
        ...


class NullLedger:
    """Nothing is remembered (standard input): every run ships everything."""

    def is_done(self, obj: ObjectRef) -> bool:
        return False

    def progress(self, obj: ObjectRef) -> Progress:
        return Progress()

    def save_progress(self, obj: ObjectRef, progress: Progress) -> None:
        return None

    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None:
        return None

    def acquire(self, obj: ObjectRef, seconds: float, force: bool = False) -> float | None:
        return None

    def renew(self, obj: ObjectRef, seconds: float) -> None:
        return None

    def release(self, obj: ObjectRef) -> None:
        return None

    def done_info(self, obj: ObjectRef) -> dict[str, Any] | None:
        return None

    def done_versions(self, obj: ObjectRef, under: str, start: str = "") -> set[tuple[str, str]]:
        return set()


def parse_progress(raw: bytes) -> Progress:
    """A progress marker's JSON; an unreadable one, or one that numbers positions another
    way (written before NUMBERING changed), means starting over (which may repeat, and
    never loses)."""
    try:
        doc = orjson.loads(raw)
        if doc.get("numbering") != NUMBERING:
            return Progress()
        value = doc.get("handled_through", 0)
        through = value if isinstance(value, int) and value > 0 else 0
        listed = doc.get("dead_lettered") or []
        done = frozenset(i for i in listed if isinstance(i, int) and i >= through)
        fingerprint = doc.get("fingerprint", "")
        return Progress(through, done, fingerprint if isinstance(fingerprint, str) else "")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return Progress()


def progress_json(progress: Progress) -> bytes:
    listed = sorted(i for i in progress.dead_lettered if i >= progress.handled_through)
    body = {
        "numbering": NUMBERING,
        "handled_through": progress.handled_through,
        "dead_lettered": listed[:MAX_LISTED_DEAD_LETTERS],
    }
    if progress.fingerprint:
        body["fingerprint"] = progress.fingerprint
    return orjson.dumps(body)


def _lease_expiry(raw: bytes) -> tuple[float, str]:
    """(expires, holder) of a lease's JSON; an unreadable lease counts as expired."""
    try:
        doc = orjson.loads(raw)
        return float(doc.get("expires", 0)), str(doc.get("holder", ""))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 0.0, ""


def _lease_json(holder: str, seconds: float) -> bytes:
    return orjson.dumps({"holder": holder, "expires": time.time() + seconds})


def _parse_done(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _safe_etag(etag: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in etag) or "no-etag"


def marker_name(prefix: str, name: str, etag: str, suffix: str) -> str:
    """The name of the `suffix` marker (done, progress, lease) of object `name` at `etag`,
    under ledger prefix `prefix`: the ETag is in the name, so a listing answers is_done."""
    return f"{prefix}{name}@{_safe_etag(etag)}.{suffix}"


class ObjectStorageLedger:
    def __init__(self, client: Any, prefix: str) -> None:
        self._client = watch_client(client)
        self.prefix = prefix
        self._holder = uuid.uuid4().hex  # who holds a lease: for people reading the bucket
        self._leases: dict[str, str] = {}  # lease key -> the ETag of our own version

    def _key(self, obj: ObjectRef, suffix: str) -> str:
        return marker_name(self.prefix, obj.name, obj.etag, suffix)

    def _get(self, obj: ObjectRef, key: str) -> bytes | None:
        return get_small_object(self._client, obj, key, f"reading ledger {key}")

    def _put(self, obj: ObjectRef, key: str, body: bytes, **conditions: str) -> str:
        what = f"writing ledger {key}"
        return put_small_object(
            self._client, obj, key, body, "application/json", what, **conditions
        )

    def is_done(self, obj: ObjectRef) -> bool:
        return self._get(obj, self._key(obj, "done")) is not None

    def progress(self, obj: ObjectRef) -> Progress:
        raw = self._get(obj, self._key(obj, "progress"))
        return Progress() if raw is None else parse_progress(raw)

    def save_progress(self, obj: ObjectRef, progress: Progress) -> None:
        self._put(obj, self._key(obj, "progress"), progress_json(progress))

    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None:
        self._put(obj, self._key(obj, "done"), orjson.dumps(summary))

    def done_info(self, obj: ObjectRef) -> dict[str, Any] | None:
        return _parse_done(self._get(obj, self._key(obj, "done")))

    def done_versions(self, obj: ObjectRef, under: str, start: str = "") -> set[tuple[str, str]]:
        found = set()
        listed = ObjectRef(self.prefix + under, obj.namespace, obj.bucket)
        after = self.prefix + under + start if start else None
        for name in list_names(self._client, listed, "listing done markers", after):
            match = _DONE_NAME.search(name)
            if match:
                found.add((name[len(self.prefix) : match.start()], match.group(1)))
        return found

    def acquire(self, obj: ObjectRef, seconds: float, force: bool = False) -> float | None:
        import oci

        key = self._key(obj, "lease")
        body = _lease_json(self._holder, seconds)
        try:  # nobody has ever held it
            self._leases[key] = self._put(obj, key, body, if_none_match="*")
            return None
        except oci.exceptions.ServiceError as exc:
            if exc.status != 412:
                raise
        current = get_small_object_with_etag(self._client, obj, key, f"reading lease {key}")
        if current is None:  # released and deleted in between: try once more from scratch
            return self.acquire(obj, seconds, force) if seconds > 0 else None
        raw, etag = current
        expires, holder = _lease_expiry(raw)
        if expires > time.time():
            if not force:
                return expires
            log.warning(
                "%s: taking over the lease of run %s (it would have expired at %s): "
                "--force asked for it; if that run is still going, both ship",
                obj, holder or "?", time.strftime("%H:%M:%SZ", time.gmtime(expires)),
            )  # fmt: skip
        try:  # expired (or forced): take it over, unless someone else just did
            self._leases[key] = self._put(obj, key, body, if_match=etag)
        except oci.exceptions.ServiceError as exc:
            if exc.status != 412:
                raise
            return time.time() + seconds
        return None

    def renew(self, obj: ObjectRef, seconds: float) -> None:
        import oci

        key = self._key(obj, "lease")
        try:
            etag = self._put(obj, key, _lease_json(self._holder, seconds),
                             if_match=self._leases.get(key, "*"))  # fmt: skip
        except oci.exceptions.ServiceError as exc:
            if exc.status != 412:
                raise
            raise LeaseLostError(f"{obj}: another run took over this object's lease") from None
        self._leases[key] = etag

    def release(self, obj: ObjectRef) -> None:
        import oci

        key = self._key(obj, "lease")
        etag = self._leases.pop(key, "")
        try:  # only our own version: a lease taken over since is the new holder's
            self._put(obj, key, _lease_json(self._holder, -1.0),
                      **({"if_match": etag} if etag else {}))  # fmt: skip
        except oci.exceptions.ServiceError as exc:
            if exc.status != 412:
                raise


def _alive(holder: str) -> bool:
    """False when `holder` (host:pid:...) is a process of this machine that is gone (a run
    killed with kill -9): its lease is stale at once, not after LEASE_SECONDS."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class LocalLedger:
    """Progress markers and leases of local files, under `folder` (see the module doc).

    A file's identity is its absolute path with its size and modification time (its
    `ObjectRef.etag`, set by `LocalReader.head`): a changed file starts over. Objects
    without an ETag (standard input) are not remembered."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _path(self, obj: ObjectRef, suffix: str) -> str:
        digest = hashlib.sha256(os.path.abspath(obj.name).encode()).hexdigest()[:32]
        return os.path.join(self.folder, "files", digest, f"{_safe_etag(obj.etag)}.{suffix}")

    def _read(self, obj: ObjectRef, suffix: str) -> bytes | None:
        if not obj.etag:
            return None
        try:
            with open(self._path(obj, suffix), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _write(self, obj: ObjectRef, suffix: str, body: bytes) -> None:
        if not obj.etag:
            return
        path = self._path(obj, suffix)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{self._holder}.tmp"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
        except OSError as exc:
            raise SourceError(f"{obj}: writing state {path} failed ({exc.strerror})") from None

    def _create(self, obj: ObjectRef, suffix: str, body: bytes) -> bool:
        """Write a file that must not exist yet; False when another run just made it."""
        path = self._path(obj, suffix)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "xb") as f:
                f.write(body)
        except FileExistsError:
            return False
        except OSError as exc:
            raise SourceError(f"{obj}: writing state {path} failed ({exc.strerror})") from None
        return True

    def _remove(self, obj: ObjectRef, suffix: str) -> None:
        if obj.etag:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._path(obj, suffix))

    def is_done(self, obj: ObjectRef) -> bool:
        return False

    def progress(self, obj: ObjectRef) -> Progress:
        raw = self._read(obj, "progress")
        return Progress() if raw is None else parse_progress(raw)

    def save_progress(self, obj: ObjectRef, progress: Progress) -> None:
        self._write(obj, "progress", progress_json(progress))

    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None:
        self._remove(obj, "progress")

    def acquire(self, obj: ObjectRef, seconds: float, force: bool = False) -> float | None:
        raw = self._read(obj, "lease")
        if raw is None and obj.etag:  # nobody holds it: create it, or see who just did
            if self._create(obj, "lease", _lease_json(self._holder, seconds)):
                return None
            raw = self._read(obj, "lease")
        if raw is not None:
            expires, holder = _lease_expiry(raw)
            if expires > time.time() and holder != self._holder and _alive(holder):
                if not force:
                    return expires
                log.warning("%s: taking over the lease of run %s (--force)", obj, holder)
        self._write(obj, "lease", _lease_json(self._holder, seconds))
        return None

    def renew(self, obj: ObjectRef, seconds: float) -> None:
        raw = self._read(obj, "lease")
        if raw is not None and _lease_expiry(raw)[1] not in ("", self._holder):
            raise LeaseLostError(f"{obj}: another run took over this file's lease")
        self._write(obj, "lease", _lease_json(self._holder, seconds))

    def release(self, obj: ObjectRef) -> None:
        raw = self._read(obj, "lease")
        if raw is not None and _lease_expiry(raw)[1] == self._holder:
            self._remove(obj, "lease")

    def done_info(self, obj: ObjectRef) -> dict[str, Any] | None:
        return None

    def done_versions(self, obj: ObjectRef, under: str, start: str = "") -> set[tuple[str, str]]:
        return set()


class LocalUnitLedger(LocalLedger):
    """Markers of units of work that are not files (an API source's windows), under
    `folder`/units, named by the unit's name; done markers are kept, so a repeated run
    skips what was collected (unlike a local file, which a command line ships again)."""

    def _path(self, obj: ObjectRef, suffix: str) -> str:
        parts = [p for p in obj.name.split("/") if p not in ("", ".", "..")]
        return os.path.join(self.folder, "units", *parts) + f"@{_safe_etag(obj.etag)}.{suffix}"

    def is_done(self, obj: ObjectRef) -> bool:
        return self._read(obj, "done") is not None

    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None:
        self._write(obj, "done", orjson.dumps(summary))
        self._remove(obj, "progress")

    def done_info(self, obj: ObjectRef) -> dict[str, Any] | None:
        return _parse_done(self._read(obj, "done"))

    def done_versions(self, obj: ObjectRef, under: str, start: str = "") -> set[tuple[str, str]]:
        base = os.path.join(self.folder, "units")
        top = os.path.join(base, *[p for p in under.split("/") if p not in ("", ".", "..")])
        found = set()
        for folder, _dirs, files in os.walk(top):
            for file in files:
                match = _DONE_NAME.search(file)
                if match and file >= start:
                    rel = os.path.relpath(os.path.join(folder, file[: match.start()]), base)
                    found.add((rel.replace(os.sep, "/"), match.group(1)))
        return found
