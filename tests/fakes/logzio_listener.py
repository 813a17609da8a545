"""Fake Logz.io bulk HTTP listener (a real HTTP/1.1 server on 127.0.0.1).

Contract (per Logz.io's bulk HTTP shipping docs, see docs/platform.md section 5):

* ``POST /?token=<TOKEN>&type=<TYPE>`` (any path is accepted; it is recorded without the query).
* Token: missing/empty -> ``401`` ``Logging token is missing``; not in ``tokens`` -> ``401``
  ``Logging token is not valid`` (``auth_failure_status=403`` answers 403 with the same texts).
* Body: NDJSON; ``Content-Encoding: gzip`` bodies are gunzipped (undecodable gzip -> ``400``
  ``Malformed gzip body``). Chunked request bodies are supported.
* Size: body longer than ``max_body_bytes`` (default 10,485,760) -> ``413``; measured on the
  gunzipped body (``limit_on="uncompressed"``, default) or on the bytes on the wire
  (``limit_on="compressed"``). Nothing is accepted from a 413'd request.
* Lines: split on ``\\n`` after dropping ONE trailing newline (a trailing ``\\r`` is stripped per
  line). Per line, in this order: longer than ``max_line_bytes`` (default 500,000) -> oversized;
  empty/whitespace-only -> empty; not a JSON object -> malformed; else accepted. (An empty body
  is therefore one empty line -> 400.)
* Any bad line -> ``400`` with JSON ``{"malformedLines", "successfulLines", "oversizedLines",
  "emptyLogLines"}``; the good lines of that request ARE recorded in ``accepted`` (partial
  acceptance, as the real service does). All good -> ``200`` with an empty body.
* Keep-alive (HTTP/1.1) is honoured; ``connections`` counts TCP connections opened.
* Failures can be scripted with :meth:`script` (see :mod:`fakes`): scripted statuses/resets
  record nothing in ``accepted``; a ``"timeout"`` hangs then (by default) processes normally.

Everything recorded is appended under a lock *before* the response is written, so a test can
assert on it as soon as the client call returns.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

from . import FakeHandler, FakeHTTPServer

__all__ = ["FakeLogzioListener", "ListenerRequest"]

DEFAULT_MAX_BODY_BYTES = 10_485_760
DEFAULT_MAX_LINE_BYTES = 500_000


@dataclass
class ListenerRequest:
    """One request as the fake listener saw it (the token is never stored)."""

    method: str
    path: str  #: request path WITHOUT the query string (so no token)
    type: str | None  #: the ``type`` query parameter
    headers: dict[str, str]  #: request headers, names lower-cased
    body_length: int  #: bytes on the wire (compressed size if gzip)
    compressed: bool  #: ``Content-Encoding: gzip`` was sent
    uncompressed_length: int | None = None  #: body size after gunzip (None if not decoded)
    line_count: int = 0  #: NDJSON lines examined (0 if rejected before line parsing)
    status: int | None = None  #: status answered; None when the connection was reset
    action: str = "ok"  #: scripted action that applied ("ok" when none)
    counts: dict[str, int] = field(default_factory=dict)  #: the per-line counters computed


class _ListenerHandler(FakeHandler):
    owner: FakeLogzioListener  # type: ignore[assignment]

    def do_POST(self) -> None:
        owner = self.owner
        body = self.read_body()
        action = owner._next_action()
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        rec = ListenerRequest(
            method=self.command,
            path=split.path or "/",
            type=query.get("type", [None])[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body_length=len(body),
            compressed=encoding in ("gzip", "x-gzip"),
            action=action.describe(),
        )

        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec, [])
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            payload = action.body if action.body is not None else _reason(action.status)
            rec.status = action.status
            owner._record(rec, [])
            self.send_simple(action.status, payload, headers=action.headers)
            return
        if action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                rec.status = owner.hang_status
                owner._record(rec, [])
                self.send_simple(owner.hang_status, _reason(owner.hang_status))
                return
        # "ok", "truncate" (meaningless here) and post-hang "timeout" are handled normally.
        token = query.get("token", [""])[0]
        status, payload, content_type, accepted = owner._evaluate(token, body, rec)
        rec.status = status
        owner._record(rec, accepted)
        self.send_simple(status, payload, content_type=content_type)

    def do_GET(self) -> None:
        self.read_body()
        self.send_simple(405, b"Method Not Allowed", headers={"Allow": "POST"})

    do_PUT = do_GET
    do_DELETE = do_GET


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Error"


class FakeLogzioListener(FakeHTTPServer):
    """Fake Logz.io bulk listener. See the module docstring for the full contract.

    Args:
        tokens: valid shipping tokens (default ``{"test-token"}``).
        max_body_bytes: 413 threshold (default 10,485,760).
        max_line_bytes: oversized-line threshold (default 500,000).
        limit_on: ``"uncompressed"`` (default) or ``"compressed"`` - which size ``max_body_bytes``
            is compared with.
        auth_failure_status: 401 (default) or e.g. 403 for token errors.
        hang_seconds / hang_status / host: see :class:`fakes.FakeHTTPServer`.

    Attributes:
        url: ``http://127.0.0.1:<port>``; post to ``f"{url}/?token=test-token&type=oci-audit"``.
        accepted: parsed JSON dicts of every accepted line, in arrival order.
        requests: :class:`ListenerRequest` per request, in arrival order.
        connections: TCP connections opened so far (keep-alive reuse keeps this at 1).
        errors: tracebacks of unexpected exceptions inside the fake.

    Methods: ``start()``, ``stop()``, context manager, ``script([...])``, ``clear()``,
    ``wait_for_requests(n, timeout)``, ``accepted_lines()``.
    """

    handler_class: ClassVar[type[FakeHandler]] = _ListenerHandler

    def __init__(
        self,
        tokens: set[str] | frozenset[str] | None = None,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        limit_on: Literal["uncompressed", "compressed"] = "uncompressed",
        auth_failure_status: int = 401,
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if limit_on not in ("uncompressed", "compressed"):
            raise ValueError("limit_on must be 'uncompressed' or 'compressed'")
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        self.tokens = frozenset(tokens if tokens is not None else {"test-token"})
        self.max_body_bytes = max_body_bytes
        self.max_line_bytes = max_line_bytes
        self.limit_on = limit_on
        self.auth_failure_status = auth_failure_status
        self.accepted: list[dict[str, Any]] = []
        self.requests: list[ListenerRequest] = []

    # -- public helpers --------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget recorded requests/records (connections counter and script are kept)."""
        with self._lock:
            self.accepted.clear()
            self.requests.clear()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests were recorded (e.g. after a client-side timeout)."""
        return self._wait(lambda: len(self.requests) >= n, timeout)

    def accepted_lines(self) -> int:
        with self._lock:
            return len(self.accepted)

    # -- internals -------------------------------------------------------------------------------
    def _record(self, rec: ListenerRequest, accepted: list[dict[str, Any]]) -> None:
        with self._lock:
            self.requests.append(rec)
            self.accepted.extend(accepted)
        self._notify()

    def _evaluate(
        self, token: str, body: bytes, rec: ListenerRequest
    ) -> tuple[int, bytes, str, list[dict[str, Any]]]:
        """Return (status, body, content type, accepted records) for a normally handled request."""
        text = "text/plain; charset=utf-8"
        if not token:
            return self.auth_failure_status, b"Logging token is missing", text, []
        if token not in self.tokens:
            return self.auth_failure_status, b"Logging token is not valid", text, []
        if self.limit_on == "compressed" and len(body) > self.max_body_bytes:
            return 413, b"Request Entity Too Large", text, []
        if rec.compressed:
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                return 400, b"Malformed gzip body", text, []
        rec.uncompressed_length = len(body)
        if self.limit_on == "uncompressed" and len(body) > self.max_body_bytes:
            return 413, b"Request Entity Too Large", text, []

        if body.endswith(b"\n"):
            body = body[:-1]
        lines = body.split(b"\n")
        rec.line_count = len(lines)
        counts = {
            "malformedLines": 0,
            "successfulLines": 0,
            "oversizedLines": 0,
            "emptyLogLines": 0,
        }
        accepted: list[dict[str, Any]] = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if len(line) > self.max_line_bytes:
                counts["oversizedLines"] += 1
                continue
            if not line.strip():
                counts["emptyLogLines"] += 1
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                counts["malformedLines"] += 1
                continue
            counts["successfulLines"] += 1
            accepted.append(obj)
        rec.counts = counts
        if counts["successfulLines"] == len(lines):
            return 200, b"", text, accepted
        return 400, json.dumps(counts).encode(), "application/json", accepted
