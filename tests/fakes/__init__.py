"""Real-HTTP test doubles for Logz.io and OCI services, bound to 127.0.0.1.

The fakes are genuine HTTP/1.1 servers (``http.server``, one daemon thread per connection), so
the code under test talks to them through ``requests`` / the real ``oci`` SDK exactly as it would
talk to the real services; nothing of ours is mocked.

Public entry points::

    from fakes import FakeLogzioListener, FakeObjectStorage  # tests/ is on sys.path under pytest
    from fakes import FakeAuditApi, FakeDataSafe, FakeFunctions, FakeIdentity
    from fakes.oci_auth import object_storage_client, make_client, sdk_config, make_test_signer

* ``FakeIdentity`` (``fakes.identity``) - GetTenancy, ListRegionSubscriptions, GetCompartment and
  paged ListCompartments (subtree, accessLevel, lifecycleState) for ``oci.identity``.
* ``FakeAuditApi`` (``fakes.audit_api``) - ListEvents for several regions on one port
  (``service_endpoint=f"{fake.url}/{region}"``), paged, whole-minute windows, latency, failing
  compartments, 429s, in-flight counting; events stored or generated lazily from a seed.
* ``FakeDataSafe`` (``fakes.data_safe``) - Data Safe ListAuditEvents for several regions on one
  port (``service_endpoint=f"{fake.url}/{region}"``): compartment tree with subtree/accessLevel
  semantics, SCIM ``scimQuery`` filters, sorting, keyset paging, latency, failing compartments,
  429s; ``make_audit_event(...)`` builds realistic (and Database Vault) AuditEventSummary JSON.
* ``FakeFunctions`` (``fakes.functions``) - GetFunction and InvokeFunction (sync / detached with
  a background ``runner``) for ``oci.functions``.
* ``fakes.logging_ingestion.FakeLoggingIngestion`` (PutLogs),
  ``fakes.vault_secrets.FakeVaultSecrets`` (secret bundles) and
  ``fakes.monitoring.FakeMonitoring`` (PostMetricData on telemetry-ingestion) are imported from
  their modules.

This module also holds the shared server machinery (:class:`FakeHTTPServer`, the scripted-failure
queue and the body/connection helpers) that the fakes build on.

Scripted actions (``fake.script([...])``) are consumed one per incoming request, before normal
handling. The request body is always read first (and discarded if the action answers), so a
keep-alive connection stays usable after a scripted error:

* ``"ok"`` - handle normally.
* ``503`` - answer with that status (default body; OCI-shaped JSON error for Object Storage).
* ``(429, {"Retry-After": "1"})`` - status + extra headers;
  ``(500, "body")`` / ``(500, b"body")`` - status + body; ``(429, {...}, "body")`` - all three.
* ``"reset"`` - close the socket without any response (TCP RST via ``SO_LINGER`` 0).
* ``"timeout"`` / ``("timeout", seconds)`` - sleep ``hang_seconds`` (or ``seconds``) before
  answering. Afterwards the request is handled normally - so it IS processed, and a client that
  timed out and retries produces a duplicate, as with a real server - unless the fake was built
  with ``hang_status=<int>``, in which case that status is answered instead. ``stop()`` cuts the
  sleep short.
* ``("trickle", seconds)`` - answer 200 with a long Content-Length, then send one byte of the
  body every ``seconds`` until the client goes away or ``stop()``: a slow sink that never
  finishes and never trips a per-read timeout.
* Fake-specific extras: Object Storage supports ``("truncate", n)``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "Action",
    "FakeAuditApi",
    "FakeDataSafe",
    "FakeFunctions",
    "FakeHTTPServer",
    "FakeIdentity",
    "FakeLogzioListener",
    "FakeObjectStorage",
    "ScriptedResponse",
]

#: One scripted action; see the module docstring.
Action = int | str | tuple[Any, ...]


@dataclass(frozen=True)
class ScriptedResponse:
    """A normalised scripted action (what :meth:`FakeHTTPServer.script` stores)."""

    kind: str  # "ok" | "status" | "reset" | "timeout" | "truncate"
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    seconds: float | None = None
    nbytes: int | None = None

    def describe(self) -> str:
        """Short label stored in request records (e.g. ``"503"``, ``"reset"``)."""
        if self.kind == "status":
            return str(self.status)
        if self.kind == "truncate":
            return f"truncate:{self.nbytes}"
        return self.kind


def _normalise_action(action: Action) -> ScriptedResponse:
    if isinstance(action, bool):
        raise TypeError(f"invalid scripted action {action!r}")
    if isinstance(action, int):
        return ScriptedResponse("status", status=action)
    if isinstance(action, str):
        if action in ("ok", "reset", "timeout"):
            return ScriptedResponse(action)
        raise ValueError(f"unknown scripted action {action!r}")
    if isinstance(action, tuple) and action:
        head = action[0]
        if head == "timeout" and len(action) == 2:
            return ScriptedResponse("timeout", seconds=float(action[1]))
        if head == "trickle" and len(action) == 2:
            return ScriptedResponse("trickle", seconds=float(action[1]))
        if head == "truncate" and len(action) == 2:
            return ScriptedResponse("truncate", nbytes=int(action[1]))
        if isinstance(head, int) and not isinstance(head, bool) and 1 <= len(action) <= 3:
            headers: Mapping[str, str] = {}
            body: bytes | None = None
            for extra in action[1:]:
                if isinstance(extra, Mapping):
                    headers = {str(k): str(v) for k, v in extra.items()}
                elif isinstance(extra, str):
                    body = extra.encode()
                elif isinstance(extra, bytes):
                    body = extra
                else:
                    raise TypeError(f"invalid element {extra!r} in scripted action {action!r}")
            return ScriptedResponse("status", status=head, headers=headers, body=body)
    raise ValueError(f"invalid scripted action {action!r}")


class _ThreadingServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks live connections so ``stop()`` can cut them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: FakeHTTPServer, handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._connection_opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.owner._connection_closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError) and self.owner._stopping.is_set():
            return  # sockets cut by stop()
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # client went away (e.g. it timed out while we were hanging)
        self.owner.errors.append(traceback.format_exc())
        traceback.print_exc(file=sys.stderr)


# The error code OCI services answer for a status (each fake may name others, e.g. Functions'
# 502 FunctionInvokeExecutionFailed).
OCI_ERROR_CODES: dict[int, str] = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotAuthorizedOrNotFound",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class OciError(Exception):
    """An answer an OCI service gives instead of the resource: status, code, message (and
    headers to send with it, e.g. Retry-After)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def not_authenticated() -> OciError:
    """What every OCI service answers a request without an Authorization header."""
    message = "The required information to complete authentication was not provided."
    return OciError(401, "NotAuthenticated", message)


class FakeHandler(BaseHTTPRequestHandler):
    """Request handler base: HTTP/1.1 keep-alive, body reading, reset/hang helpers, quiet logs."""

    protocol_version = "HTTP/1.1"
    #: socket timeout for idle keep-alive connections (``stop()`` closes them anyway)
    timeout = 60
    #: TCP_NODELAY: headers and body are separate writes; avoid Nagle + delayed-ACK 40 ms stalls
    disable_nagle_algorithm = True
    server: _ThreadingServer

    @property
    def owner(self) -> Any:
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        """Read the whole request body (Content-Length or chunked transfer encoding)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise ConnectionError("client closed mid-body")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length > 0 else b""
        if len(data) != length:
            raise ConnectionError("client closed mid-body")
        return data

    def send_simple(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str | None = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        head_only: bool = False,
    ) -> None:
        """Send a complete response with an exact Content-Length (keeps the connection usable)."""
        self.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if content_type and body and "content-type" not in sent:
            self.send_header("Content-Type", content_type)
        if "content-length" not in sent and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head_only and status not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()

    def send_oci_error(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> None:
        """An OCI error answer: `{"code", "message"}` JSON (unless `body` is given), with the
        request id."""
        if body is None:
            body = json.dumps({"code": code, "message": message}).encode()
        self.send_simple(
            status,
            body,
            content_type="application/json",
            headers={"opc-request-id": request_id, **dict(headers or {})},
        )

    def reset_connection(self) -> None:
        """Abort the TCP connection with a RST and send nothing."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()

    def trickle(self, action: ScriptedResponse) -> None:
        """200, then a body that never ends: one byte every `action.seconds`."""
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            self.wfile.flush()
            while not self.owner._stopping.wait(action.seconds or 1.0):
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            return  # the client gave up: what the test wants to see

    def hang(self, action: ScriptedResponse) -> None:
        """Sleep for the scripted hang time (interrupted by ``stop()``)."""
        seconds = action.seconds if action.seconds is not None else self.owner.hang_seconds
        self.owner._stopping.wait(seconds)


class FakeHTTPServer:
    """Lifecycle + bookkeeping shared by the fakes.

    Constructor args: ``host`` (default ``127.0.0.1``), ``hang_seconds`` (sleep for ``"timeout"``),
    ``hang_status`` (``None`` = handle normally after the hang, else answer this status).

    Attributes: ``url`` (``http://127.0.0.1:<port>``), ``port``, ``connections`` (TCP connections
    accepted so far), ``errors`` (tracebacks of unexpected exceptions inside the fake - a test may
    assert it is empty). Use as a context manager or call ``start()`` / ``stop()``.
    """

    handler_class: ClassVar[type[FakeHandler]] = FakeHandler

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
    ) -> None:
        self.host = host
        self.hang_seconds = hang_seconds
        self.hang_status = hang_status
        self.connections = 0
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._script: deque[ScriptedResponse] = deque()
        self._open_sockets: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind an ephemeral port on ``host`` and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._server = _ThreadingServer(self, self.handler_class)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open (keep-alive or hanging) connection. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            sockets = list(self._open_sockets)
            self._open_sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("fake server not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    # -- scripting -------------------------------------------------------------------------------
    def script(self, actions: Iterable[Action]) -> None:
        """Append actions to the failure script (consumed one per request, FIFO)."""
        parsed = [_normalise_action(a) for a in actions]
        with self._lock:
            self._script.extend(parsed)

    @property
    def pending_script(self) -> int:
        """Number of scripted actions not yet consumed."""
        with self._lock:
            return len(self._script)

    def _next_action(self) -> ScriptedResponse:
        with self._lock:
            return self._script.popleft() if self._script else ScriptedResponse("ok")

    # -- bookkeeping -----------------------------------------------------------------------------
    def _connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._open_sockets.add(sock)

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_sockets.discard(sock)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _wait(self, predicate: Any, timeout: float) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(predicate, timeout=timeout))


# Re-exports (placed after FakeHTTPServer, which the submodules import from this package).
from .audit_api import FakeAuditApi  # noqa: E402
from .data_safe import FakeDataSafe  # noqa: E402
from .functions import FakeFunctions  # noqa: E402
from .identity import FakeIdentity  # noqa: E402
from .logzio_listener import FakeLogzioListener  # noqa: E402
from .object_storage import FakeObjectStorage  # noqa: E402
