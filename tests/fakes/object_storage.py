"""Fake OCI Object Storage (native API subset) - a real HTTP/1.1 server on 127.0.0.1, in memory.

Point the real SDK at it with :func:`fakes.oci_auth.object_storage_client` (``fake.url``).

Contract (paths as the ``oci`` SDK builds them; path segments are percent-decoded, and object names
may contain ``/`` either literally or as ``%2F`` - the SDK sends ``%2F`` because Object Storage
uses strict URL encoding by default):

* ``GET /n`` or ``/n/`` -> the namespace as a JSON string (``get_namespace``).
* ``GET /n/{ns}/b/{bucket}/o/{name}`` -> 200 full body, or with ``Range: bytes=a-b`` /
  ``bytes=a-`` / ``bytes=-n`` -> 206 + ``Content-Range: bytes a-b/size``; a range starting at or
  beyond the size (or any range on an empty object) -> 416 ``InvalidRange`` with
  ``Content-Range: bytes */size``; a syntactically invalid or multi-range header is ignored (200).
  ``if-match`` that differs -> 412 ``IfMatchFailed``; ``if-none-match`` equal to the ETag (or ``*``)
  -> 304. Headers: ``Content-Length``, ``Content-Type``, ``ETag`` (a new uuid per write),
  ``last-modified`` (RFC 7231), ``opc-request-id``, ``opc-content-md5`` (base64 MD5 of the whole
  object, also on 206), ``accept-ranges``, ``storage-tier``, stored ``Content-Encoding`` and
  ``opc-meta-*``.
* ``HEAD`` same path -> same headers, no body (errors on HEAD carry no body, like the real service,
  so the SDK's ``ServiceError.code`` is ``None`` there).
* ``PUT`` same path -> stores the body (``Content-Type``/``Content-Encoding``/``opc-meta-*`` kept);
  ``if-none-match: *`` on an existing object -> 412 ``IfNoneMatchFailed``; ``if-match`` that
  differs (or object absent) -> 412 ``IfMatchFailed``; a ``Content-MD5`` that does not match ->
  400 ``UnmatchedContentMD5``. 200 with ``ETag``, ``opc-content-md5``, ``last-modified``.
* ``DELETE`` same path -> 204 (``if-match`` honoured).
* ``GET /n/{ns}/b/{bucket}/o?prefix=&start=&end=&startAfter=&limit=&delimiter=&fields=`` ->
  ListObjects JSON ``{"objects": [...], "nextStartWith": ...}``: sorted by name; each summary has
  ``name`` only unless ``fields`` (comma list, case-insensitive) asks for ``size``, ``etag``,
  ``md5``, ``timeCreated``, ``timeModified``, ``storageTier``, ``archivalState`` (default page
  size and maximum 1000); ``delimiter=/`` adds ``prefixes`` (each distinct prefix counts toward
  ``limit``). ``nextStartWith`` is present only when truncated.
* Unknown bucket (or namespace) -> 404 ``BucketNotFound``; unknown object -> 404
  ``ObjectNotFound``; errors are ``{"code": ..., "message": ...}`` JSON so the SDK raises
  ``oci.exceptions.ServiceError`` with ``.status``/``.code``.
* A request without an ``authorization`` header -> 401 ``NotAuthenticated`` (signatures are not
  verified). Disable with ``require_auth=False``.
* Scripted failures via :meth:`script` (see :mod:`fakes`): statuses (OCI JSON error body with
  ``TooManyRequests``/``InternalServerError``/``ServiceUnavailable``... codes), ``"reset"``,
  ``"timeout"``, and ``("truncate", n)``: the request is handled normally but only the first ``n``
  body bytes are sent after headers announcing the full ``Content-Length``, then the connection is
  closed (FIN) - the client sees a short read (urllib3 ``IncompleteRead``/``ProtocolError``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from . import FakeHandler, FakeHTTPServer

__all__ = ["FakeObjectStorage", "ObjectStorageRequest", "StoredObject"]

DEFAULT_NAMESPACE = "testns"
MAX_LIST_LIMIT = 1000

_DEFAULT_ERROR_CODES = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "RequestEntityTooLarge",
    416: "InvalidRange",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

_LIST_FIELDS = {
    "name": "name",
    "size": "size",
    "etag": "etag",
    "md5": "md5",
    "timecreated": "timeCreated",
    "timemodified": "timeModified",
    "storagetier": "storageTier",
    "archivalstate": "archivalState",
}

_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


@dataclass
class StoredObject:
    """One object version held by the fake."""

    data: bytes
    etag: str
    md5: str  #: base64 MD5 of ``data`` (as in ``opc-content-md5`` / list ``md5``)
    time_created: datetime
    time_modified: datetime
    content_type: str = "application/octet-stream"
    content_encoding: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  #: ``opc-meta-*`` without prefix


@dataclass
class ObjectStorageRequest:
    """One request as the fake saw it."""

    method: str
    path: str  #: raw request path without query (still percent-encoded)
    query: dict[str, str]
    namespace: str | None
    bucket: str | None
    object_name: str | None  #: decoded object name (None for list/namespace calls)
    range: str | None  #: the ``Range`` header as sent
    headers: dict[str, str]  #: request headers, names lower-cased
    body_length: int
    status: int | None = None  #: None when the connection was reset
    action: str = "ok"


@dataclass
class _Resp:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _error(status: int, code: str | None = None, message: str | None = None) -> _Resp:
    code = code or _DEFAULT_ERROR_CODES.get(status, "Error")
    body = json.dumps({"code": code, "message": message or code}).encode()
    return _Resp(status, {"Content-Type": "application/json"}, body)


class _ObjectStorageHandler(FakeHandler):
    owner: FakeObjectStorage  # type: ignore[assignment]

    def _dispatch(self) -> None:
        owner = self.owner
        body = self.read_body()
        action = owner._next_action()
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        route = _parse_path(split.path)
        rec = ObjectStorageRequest(
            method=self.command,
            path=split.path,
            query=query,
            namespace=route[0] if route else None,
            bucket=route[1] if route else None,
            object_name=route[2] if route else None,
            range=self.headers.get("Range"),
            headers={k.lower(): v for k, v in self.headers.items()},
            body_length=len(body),
            action=action.describe(),
        )
        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec)
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            resp = _error(action.status)
            if action.body is not None:
                resp.body = action.body
            resp.headers.update(action.headers)
        elif action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                resp = _error(owner.hang_status)
            else:
                resp = owner._handle(self.command, split.path, query, self.headers, body)
        else:
            resp = owner._handle(self.command, split.path, query, self.headers, body)
        resp.headers.setdefault(
            "opc-request-id", self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        )
        if "opc-client-request-id" in self.headers:
            resp.headers["opc-client-request-id"] = self.headers["opc-client-request-id"]
        rec.status = resp.status
        owner._record(rec)
        self._send(resp, truncate=action.nbytes if action.kind == "truncate" else None)

    def _send(self, resp: _Resp, truncate: int | None) -> None:
        head = self.command == "HEAD"
        self.send_response(resp.status)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        if "Content-Length" not in resp.headers and resp.status not in (204, 304):
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if not head and resp.status not in (204, 304):
            if truncate is not None:
                self.wfile.write(resp.body[: max(0, truncate)])
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)  # SHUT_RDWR: short read on the client side
                return
            self.wfile.write(resp.body)
        self.wfile.flush()

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_POST = _dispatch


def _parse_path(path: str) -> tuple[str, str | None, str | None] | None:
    """``/n/{ns}/b/{bucket}/o/{name}`` -> (ns, bucket, name); ``name`` may contain ``/``."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "" or parts[1] != "n":
        return None
    ns = unquote(parts[2])
    bucket = unquote(parts[4]) if len(parts) >= 5 and parts[3] == "b" else None
    name = unquote("/".join(parts[6:])) if len(parts) >= 7 and parts[5] == "o" else None
    return ns, bucket, name


class FakeObjectStorage(FakeHTTPServer):
    """In-memory fake of the native OCI Object Storage API. Contract: see the module docstring.

    Args:
        namespace: namespace returned by ``GET /n/`` (objects may be put in any namespace).
        require_auth: reject requests lacking an ``authorization`` header with 401.
        hang_seconds / hang_status / host: see :class:`fakes.FakeHTTPServer`.

    Seeding/inspection (thread-safe, no HTTP): ``put(ns, bucket, name, data, *, content_type=...,
    content_encoding=None, metadata=None) -> etag`` (creates the bucket), ``get(ns, bucket, name)
    -> bytes | None``, ``stat(...) -> StoredObject | None``, ``names(ns, bucket, prefix="")``,
    ``delete(ns, bucket, name) -> bool``, ``create_bucket(ns, bucket)``.

    Attributes: ``url``, ``requests`` (:class:`ObjectStorageRequest` list), ``connections``,
    ``errors``. Methods: ``start()``, ``stop()``, context manager, ``script([...])``, ``clear()``.
    """

    handler_class: ClassVar[type[FakeHandler]] = _ObjectStorageHandler

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        require_auth: bool = True,
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        self.namespace = namespace
        self.require_auth = require_auth
        self.requests: list[ObjectStorageRequest] = []
        self._buckets: dict[tuple[str, str], dict[str, StoredObject]] = {}

    # -- direct (non-HTTP) helpers ---------------------------------------------------------------
    def create_bucket(self, namespace: str, bucket: str) -> None:
        with self._lock:
            self._buckets.setdefault((namespace, bucket), {})

    def put(
        self,
        namespace: str,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        content_encoding: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Seed/overwrite an object (bucket auto-created); returns its new ETag."""
        now = datetime.now(UTC)
        with self._lock:
            objects = self._buckets.setdefault((namespace, bucket), {})
            old = objects.get(name)
            obj = StoredObject(
                data=bytes(data),
                etag=str(uuid.uuid4()),
                md5=_md5_b64(data),
                time_created=old.time_created if old else now,
                time_modified=now,
                content_type=content_type,
                content_encoding=content_encoding,
                metadata=dict(metadata or {}),
            )
            objects[name] = obj
            return obj.etag

    def stat(self, namespace: str, bucket: str, name: str) -> StoredObject | None:
        with self._lock:
            return self._buckets.get((namespace, bucket), {}).get(name)

    def get(self, namespace: str, bucket: str, name: str) -> bytes | None:
        obj = self.stat(namespace, bucket, name)
        return obj.data if obj else None

    def names(self, namespace: str, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            objs = self._buckets.get((namespace, bucket), {})
            return sorted(n for n in objs if n.startswith(prefix))

    def delete(self, namespace: str, bucket: str, name: str) -> bool:
        with self._lock:
            return self._buckets.get((namespace, bucket), {}).pop(name, None) is not None

    def clear(self) -> None:
        """Forget recorded requests (objects and script are kept)."""
        with self._lock:
            self.requests.clear()

    # -- HTTP semantics --------------------------------------------------------------------------
    def _record(self, rec: ObjectStorageRequest) -> None:
        with self._lock:
            self.requests.append(rec)
        self._notify()

    def _handle(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> _Resp:
        if self.require_auth and not headers.get("authorization"):
            message = "The required information to complete authentication was not provided."
            return _error(401, "NotAuthenticated", message)
        if method == "GET" and path in ("/n", "/n/"):
            body_json = json.dumps(self.namespace).encode()
            return _Resp(200, {"Content-Type": "application/json"}, body_json)
        route = _parse_path(path)
        if route is None:
            return _error(404, "NotFound", f"Not found: {path}")
        ns, bucket, name = route
        if bucket is None:
            return _error(404, "NotFound", f"Not found: {path}")
        with self._lock:
            objects = self._buckets.get((ns, bucket))
            if objects is None:
                return _error(
                    404,
                    "BucketNotFound",
                    f"Either the bucket named '{bucket}' does not exist in the namespace '{ns}' "
                    "or you are not authorized to access it",
                )
            if name is None:
                if path.rstrip("/").endswith("/o") and method == "GET":
                    return self._list(objects, query)
                return _error(404, "NotFound", f"Not found: {path}")
            if name == "":
                return _error(400, "InvalidParameter", "Object name must not be empty")
            if method in ("GET", "HEAD"):
                return self._get(objects.get(name), ns, bucket, name, headers)
            if method == "PUT":
                return self._put(objects, ns, bucket, name, headers, body)
            if method == "DELETE":
                return self._delete(objects, ns, bucket, name, headers)
            return _error(405, "MethodNotAllowed", f"{method} not supported by the fake")

    @staticmethod
    def _not_found(ns: str, bucket: str, name: str) -> _Resp:
        return _error(
            404,
            "ObjectNotFound",
            f"The object '{name}' was not found in the bucket '{bucket}' (namespace '{ns}')",
        )

    @staticmethod
    def _object_headers(obj: StoredObject) -> dict[str, str]:
        headers = {
            "Content-Type": obj.content_type,
            "ETag": obj.etag,
            "last-modified": format_datetime(obj.time_modified, usegmt=True),
            "opc-content-md5": obj.md5,
            "accept-ranges": "bytes",
            "storage-tier": "Standard",
        }
        if obj.content_encoding:
            headers["Content-Encoding"] = obj.content_encoding
        for key, value in obj.metadata.items():
            headers[f"opc-meta-{key}"] = value
        return headers

    def _get(
        self, obj: StoredObject | None, ns: str, bucket: str, name: str, headers: Any
    ) -> _Resp:
        if obj is None:
            return self._not_found(ns, bucket, name)
        if_match = headers.get("if-match")
        if if_match is not None and if_match != obj.etag:
            return _error(412, "IfMatchFailed", "The If-Match precondition failed")
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None and if_none_match in ("*", obj.etag):
            return _Resp(304, {"ETag": obj.etag})
        out = self._object_headers(obj)
        size = len(obj.data)
        parsed = _parse_range(headers.get("range"), size)
        if parsed is None:
            return _Resp(200, out, obj.data)
        if parsed == "unsatisfiable":
            resp = _error(
                416, "InvalidRange", f"The requested range is not satisfiable (size {size})"
            )
            resp.headers["Content-Range"] = f"bytes */{size}"
            return resp
        start, end = parsed
        out["Content-Range"] = f"bytes {start}-{end}/{size}"
        return _Resp(206, out, obj.data[start : end + 1])

    def _put(
        self,
        objects: dict[str, StoredObject],
        ns: str,
        bucket: str,
        name: str,
        headers: Any,
        body: bytes,
    ) -> _Resp:
        existing = objects.get(name)
        if headers.get("if-none-match") == "*" and existing is not None:
            return _error(412, "IfNoneMatchFailed", "The If-None-Match precondition failed")
        if_match = headers.get("if-match")
        if if_match is not None and (existing is None or existing.etag != if_match):
            return _error(412, "IfMatchFailed", "The If-Match precondition failed")
        md5 = _md5_b64(body)
        content_md5 = headers.get("Content-MD5")
        if content_md5 is not None and content_md5 != md5:
            return _error(400, "UnmatchedContentMD5", "The Content-MD5 does not match the body")
        metadata = {
            k[len("opc-meta-") :]: v
            for k, v in headers.items()
            if k.lower().startswith("opc-meta-")
        }
        etag = self.put(
            ns,
            bucket,
            name,
            body,
            content_type=headers.get("Content-Type") or "application/octet-stream",
            content_encoding=headers.get("Content-Encoding"),
            metadata=metadata,
        )
        obj = objects[name]
        return _Resp(
            200,
            {
                "ETag": etag,
                "opc-content-md5": md5,
                "last-modified": format_datetime(obj.time_modified, usegmt=True),
            },
        )

    def _delete(
        self, objects: dict[str, StoredObject], ns: str, bucket: str, name: str, headers: Any
    ) -> _Resp:
        existing = objects.get(name)
        if existing is None:
            return self._not_found(ns, bucket, name)
        if_match = headers.get("if-match")
        if if_match is not None and if_match != existing.etag:
            return _error(412, "IfMatchFailed", "The If-Match precondition failed")
        del objects[name]
        return _Resp(204, {"last-modified": format_datetime(datetime.now(UTC), usegmt=True)})

    def _list(self, objects: dict[str, StoredObject], query: dict[str, str]) -> _Resp:
        try:
            limit = int(query.get("limit", MAX_LIST_LIMIT))
        except ValueError:
            return _error(400, "InvalidParameter", "limit must be an integer")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return _error(400, "InvalidParameter", f"limit must be between 1 and {MAX_LIST_LIMIT}")
        wanted = {"name"}
        for raw_field in query.get("fields", "").split(","):
            key = raw_field.strip().lower()
            if not key:
                continue
            if key not in _LIST_FIELDS:
                return _error(400, "InvalidParameter", f"unknown field {raw_field!r}")
            wanted.add(_LIST_FIELDS[key])
        delimiter = query.get("delimiter")
        if delimiter is not None and delimiter != "/":
            return _error(400, "InvalidParameter", "only '/' is supported as delimiter")
        prefix = query.get("prefix", "")
        start = query.get("start")
        end = query.get("end")
        start_after = query.get("startAfter")

        candidates = [
            n
            for n in sorted(objects)
            if n.startswith(prefix)
            and (start is None or n >= start)
            and (end is None or n < end)
            and (start_after is None or n > start_after)
        ]
        summaries: list[dict[str, Any]] = []
        prefixes: list[str] = []
        next_start: str | None = None
        emitted = 0
        for n in candidates:
            group = None
            if delimiter:
                cut = n.find(delimiter, len(prefix))
                if cut >= 0:
                    group = n[: cut + 1]
            if group is not None and prefixes and prefixes[-1] == group:
                continue  # same common prefix as the previous entry
            if emitted >= limit:
                next_start = n
                break
            emitted += 1
            if group is not None:
                prefixes.append(group)
                continue
            summaries.append(self._summary(n, objects[n], wanted))
        doc: dict[str, Any] = {"objects": summaries}
        if delimiter:
            doc["prefixes"] = prefixes
        if next_start is not None:
            doc["nextStartWith"] = next_start
        return _Resp(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())

    @staticmethod
    def _summary(name: str, obj: StoredObject, wanted: set[str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "name": name,
            "size": len(obj.data),
            "etag": obj.etag,
            "md5": obj.md5,
            "timeCreated": _iso(obj.time_created),
            "timeModified": _iso(obj.time_modified),
            "storageTier": "Standard",
        }
        return {k: v for k, v in full.items() if k in wanted}


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """None = serve everything; "unsatisfiable" = 416; else inclusive (start, end)."""
    if header is None:
        return None
    m = _RANGE_RE.fullmatch(header)
    if not m or (m[1] == "" and m[2] == ""):
        return None  # invalid syntax or multiple ranges: ignored (RFC 7233 section 3.1)
    if m[1] == "":
        suffix = int(m[2])
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(m[1])
    if m[2] and int(m[2]) < start:
        return None  # invalid (last < first): ignored
    if start >= size:
        return "unsatisfiable"
    end = int(m[2]) if m[2] else size - 1
    return start, min(end, size - 1)
