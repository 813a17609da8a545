"""No token in the function log, even when urllib3 logs a URL at WARNING."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

import pytest
from auditship.errors import RetryableSinkError
from auditship.logs import configure_logging
from auditship.model import ObjectRef
from auditship.sinks.base import Prepared
from auditship.sinks.logzio import LogzioSink

SECRET = "SECRET-SHIPPING-TOKEN-123"


def _malformed_header_server() -> tuple[int, threading.Thread]:
    """A loopback listener whose answer has a header line without a colon: urllib3 then
    warns "Failed to parse headers (url=...)" with the full URL."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nbroken header line\r\n\r\n")
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv.getsockname()[1], t


def test_urllib3_warnings_do_not_carry_the_token(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging()
    port, thread = _malformed_header_server()
    sink = LogzioSink(f"http://127.0.0.1:{port}", SECRET)
    with caplog.at_level(logging.DEBUG), contextlib.suppress(RetryableSinkError):
        sink.send([Prepared(0, b"{}", 2)], ObjectRef("o"), timeout=5)
    thread.join(5)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Failed to parse headers" in text  # the warning that carries the URL was logged
    assert "token=***" in text
    assert SECRET not in text
