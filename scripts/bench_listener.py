#!/usr/bin/env python3
"""Loopback sink for `scripts/bench.py`: a small, fast HTTP/1.1 keep-alive server that
stands in for Logz.io or the OCI Logging ingestion API, in its own process so it never
takes the GIL from the process under test.

    python scripts/bench_listener.py --mode logzio|putlogs [--port 0]

- `logzio`: any `POST` path; reads the body, answers 200 with an empty body; counts the
  non-empty NDJSON lines (after gunzip when `Content-Encoding: gzip`).
- `putlogs`: `POST /20200831/logs/{logId}/actions/push`; reads the body, answers 200 with
  an empty body (404 for any other path); counts the entries of every
  `logEntryBatches[*]`.

Counting (gunzip, JSON parsing) happens after the run, when the listener is told to stop:
the real services do that work on their own machines, and here it would take CPU from
the process under test on a small machine. A body that cannot be counted then shows up
as an error in the counters, so a run that sent bad bodies still fails the benchmark.

The first stdout line is `{"port": N}`. The server runs until its stdin reaches EOF (or
SIGTERM/SIGINT), then prints one JSON line of counters (requests, records, bytes, its own
CPU seconds) and exits. Loopback (127.0.0.1) only.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

try:
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover
    import zlib as _zlib  # type: ignore[no-redef]  # the same API, where isal has no wheel

PUSH_PATH = re.compile(r"^/20200831/logs/([^/?]+)/actions/push$")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.records = 0
        self.wire_bytes = 0  # bodies as received
        self.body_bytes = 0  # bodies after gunzip
        self.errors = 0
        self.statuses: dict[str, int] = {}
        self.tokens: set[str] = set()
        self.first: float | None = None
        self.last: float | None = None
        self.pending: list[tuple[bytes, bool]] = []  # (body as received, gzip?) to count

    def received(self, wire: bytes, gzip: bool, token: str | None) -> None:
        """A body answered 200 now and counted at `count_pending` (see module doc)."""
        with self.lock:
            self.pending.append((wire, gzip))
        self.add(200, 0, len(wire), 0, token)

    def count_pending(self, mode: str) -> None:
        with self.lock:
            pending, self.pending = self.pending, []
        for wire, gzip in pending:
            try:
                body = _zlib.decompress(wire, 31) if gzip else wire
                records = count_lines(body) if mode == "logzio" else count_entries(body)
            except Exception:  # the client sent something the service would refuse
                with self.lock:
                    self.errors += 1
                    self.statuses["400"] = self.statuses.get("400", 0) + 1
                    self.statuses["200"] -= 1
                continue
            with self.lock:
                self.records += records
                self.body_bytes += len(body)

    def add(self, status: int, records: int, wire: int, body: int, token: str | None) -> None:
        now = time.time()
        with self.lock:
            self.requests += 1
            self.records += records
            self.wire_bytes += wire
            self.body_bytes += body
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if status != 200:
                self.errors += 1
            if token is not None:
                self.tokens.add(token)
            if self.first is None:
                self.first = now
            self.last = now

    def to_json(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self.lock:
            return {
                "requests": self.requests,
                "records": self.records,
                "wire_bytes": self.wire_bytes,
                "body_bytes": self.body_bytes,
                "errors": self.errors,
                "statuses": dict(self.statuses),
                "tokens_seen": len(self.tokens),
                "first_request_at": self.first,
                "last_request_at": self.last,
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
                "max_rss_kb": usage.ru_maxrss,
            }


def count_lines(body: bytes) -> int:
    """Non-empty lines of an NDJSON body."""
    if not body:
        return 0
    if b"\n\n" in body or body.startswith(b"\n"):
        return sum(1 for line in body.split(b"\n") if line)
    return body.count(b"\n") + (0 if body.endswith(b"\n") else 1)


def count_entries(body: bytes) -> int:
    doc = _loads(body)
    return sum(len(batch["entries"]) for batch in doc["logEntryBatches"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bench-listener/1"
    sys_version = ""
    disable_nagle_algorithm = True
    mode = "logzio"
    stats = Stats()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("opc-request-id", "bench")
        if body:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_POST(self) -> None:
        wire = self._read_body()
        token = None
        if "token=" in self.path:
            token = self.path.split("token=", 1)[1].split("&", 1)[0]
        if self.mode == "putlogs" and not PUSH_PATH.match(self.path.split("?", 1)[0]):
            self.stats.add(404, 0, len(wire), 0, token)
            self._answer(404, b'{"code":"NotFound"}')
            return
        gzip = self.headers.get("Content-Encoding", "").lower() == "gzip"
        self.stats.received(wire, gzip, token)
        self._answer(200)

    def do_GET(self) -> None:
        if self.path == "/__stats":
            self._answer(200, json.dumps(self.stats.to_json()).encode())
        else:
            self._answer(404)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("logzio", "putlogs"), default="logzio")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    Handler.mode = args.mode
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    serving.daemon = True
    serving.start()
    done = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def wait_stdin() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            done.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    while not done.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    Handler.stats.count_pending(args.mode)
    sys.stdout.write(json.dumps(Handler.stats.to_json()) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
