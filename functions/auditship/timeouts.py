"""A total time limit for HTTP requests: connect, send and the whole answer.

requests and urllib3 time each socket operation, not the request: a server that sends a
byte every few seconds, or a body that never ends, never trips a read timeout, and would
hold a call past any deadline. `bounded(seconds)` arms a watchdog for the requests this
thread makes inside the block: when the time is up, it shuts down the sockets of the
connections those requests use, so the blocked call fails at once (urllib3 and requests
raise a connection or protocol error; `watch.fired` tells the caller it was the limit).

It works on sessions prepared with `watch_session` (our own Logz.io session, and the OCI
SDK clients' sessions): their connection pools report each connection they hand out to
the thread's watchdog. Nothing changes outside a `bounded` block.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_RECHECK_SECONDS = 0.25  # after firing: a connection still connecting is caught this soon


class Watch:
    """The watchdog of one `bounded` block (see the module docstring)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self.fired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditship-watch", daemon=True)

    def track(self, conn: Any) -> None:
        with self._lock:
            self._conns.append(conn)
            if self.fired:
                _shut(conn)

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        # Keep shutting: a connection that was still connecting has no socket yet.
        while True:
            with self._lock:
                if self._done.is_set():  # the block ended as the time ran out
                    return
                self.fired = True
                for conn in self._conns:
                    _shut(conn)
            if self._done.wait(_RECHECK_SECONDS):
                return

    def untrack(self, conn: Any) -> None:
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def bounded(seconds: float, connection: Any = None) -> Iterator[Watch]:
    """Requests made by this thread inside the block end within `seconds` (see above).
    `connection`: one already handed out (a streamed answer's) that the block reads from."""
    watch = Watch(seconds)
    if connection is not None:
        watch.track(connection)
    outer = getattr(_local, "watch", None)
    _local.watch = watch
    watch._thread.start()
    try:
        yield watch
    finally:
        with watch._lock:  # after this, the watchdog touches no connection
            watch._done.set()
        _local.watch = outer


class _WatchedPool:
    """Mixed into a urllib3 connection pool class: report connections to the watchdog."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]  # a urllib3 pool's method
        watch = getattr(_local, "watch", None)
        if watch is not None:
            watch.track(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        # Back in the pool, it may serve another request: no watchdog of ours shuts it.
        watch = getattr(_local, "watch", None)
        if watch is not None and conn is not None:
            watch.untrack(conn)
        super()._put_conn(conn)  # type: ignore[misc]  # a urllib3 pool's method


_watched_classes: dict[type, type] = {}


def _watched(pool_class: type) -> type:
    if issubclass(pool_class, _WatchedPool):
        return pool_class
    if pool_class not in _watched_classes:
        name = "Watched" + pool_class.__name__
        _watched_classes[pool_class] = type(name, (_WatchedPool, pool_class), {})
    return _watched_classes[pool_class]


def watch_client(client: Any) -> Any:
    """`watch_session` for an OCI SDK client's session; returns the client."""
    watch_session(client.base_client.session)
    return client


def watch_session(session: Any) -> None:
    """Let `bounded` limit the requests of this `requests.Session` (call it before the
    session's first request: pools made earlier stay as they are)."""
    for adapter in session.adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is not None:
            manager.pool_classes_by_scheme = {
                scheme: _watched(cls) for scheme, cls in manager.pool_classes_by_scheme.items()
            }
