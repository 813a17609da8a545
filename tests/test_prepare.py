"""prepare: the window cutter never cuts inside a record, and worker processes give exactly
what the in-process path gives, in order."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import orjson
from auditgen import records, render
from auditship.deadletter import LocalDeadLetterStore
from auditship.deadline import Deadline
from auditship.ledger import NullLedger
from auditship.model import ObjectRef
from auditship.normalize import Normalizer
from auditship.pipeline import RetryPolicy, ShipOptions, ship_object
from auditship.prepare import PoolStage, WindowCutter
from auditship.sinks.logzio import LogzioSink
from auditship.sources import LocalReader
from conftest import TOKEN
from fakes import FakeLogzioListener
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200)
@given(
    n=st.integers(0, 40),
    layout=st.sampled_from(["connector", "ndjson", "pretty", "array", "wrapped"]),
    window=st.integers(64, 20_000),
    chunk=st.integers(1, 5000),
    seed=st.integers(0, 100),
)
def test_windows_concatenate_to_the_stream_and_end_between_records(
    n: int, layout: str, window: int, chunk: int, seed: int
) -> None:
    gen = records(seed=seed, tricky_ratio=0.5)
    data = render([next(gen) for _ in range(n)], layout, random.Random(seed))
    cutter = WindowCutter(window)
    cut: list[tuple[int, bytes]] = []
    position = 0
    while position < len(data) and not cutter.stuck:
        cut.extend((b, bytes(w)) for b, w in cutter.feed(data[position : position + chunk]))
        position += chunk
    rest = cutter.rest() if cutter.stuck else None
    tail = [(b, bytes(w)) for b, w in cutter.finish()]
    pieces = cut + ([rest] if rest else []) + tail
    # nothing lost, nothing repeated, offsets exact
    assert b"".join(w for _, w in pieces) + data[position:] == data
    offset = 0
    for base, w in pieces:
        assert base == offset
        offset += len(w)
    # every window handed to a worker ends with a complete record, and the next one (or
    # what is left for the calling process) starts at the next record's `{`
    for _, w in cut:
        assert w.rstrip().endswith(b"}")
    for _, w in (cut + ([rest] if rest else []) + tail)[1:]:
        assert w.startswith(b"{") or not w.strip()


def test_a_stream_without_newlines_falls_back_to_this_process_without_loss() -> None:
    gen = records(seed=4, tricky_ratio=0.5)
    recs = [next(gen) for _ in range(200)]
    data = b"".join(orjson.dumps(r) for r in recs)  # one line, `}{` inside strings too
    obj = ObjectRef("one-line")
    sink = LogzioSink("http://127.0.0.1:9", TOKEN)
    pool = PoolStage(obj, Normalizer(), sink, 1 << 20, workers=2, window_bytes=8192)
    try:
        windows = []
        for i in range(0, len(data), 3000):
            windows.extend(pool.feed(data[i : i + 3000]))
        windows.extend(pool.finish())
    finally:
        pool.close()
    payloads = [p for w in windows for p in w.payloads]
    assert all(p is not None for p in payloads)
    assert [orjson.loads(p)["id"] for p in payloads] == [r["id"] for r in recs]


def test_worker_processes_ship_exactly_what_the_inline_path_ships(tmp_path: Path) -> None:
    gen = records(seed=11, tricky_ratio=0.3)
    recs = [next(gen) for _ in range(3000)]
    body = render(recs, "connector", random.Random(2))
    # a broken stretch in the middle must be dead-lettered at its exact offset either way
    cut = body.index(b"\n", len(body) // 2) + 1
    body = body[:cut] + b'{"broken": tru}\n' + body[cut:]
    path = tmp_path / "obj.log.gz"
    path.write_bytes(gzip.compress(body))

    def run(workers: int) -> tuple[list[bytes], list[dict[str, object]], dict[str, object]]:
        with FakeLogzioListener(tokens={TOKEN}) as listener:
            sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=256 * 1024)
            dlq = tmp_path / f"dlq-{workers}"
            summary = ship_object(
                ObjectRef(str(path)),
                reader=LocalReader(),
                sink=sink,
                normalizer=Normalizer(),
                dead_letters=LocalDeadLetterStore(str(dlq)),
                ledger=NullLedger(),
                deadline=Deadline.unlimited(),
                options=ShipOptions(workers=workers, retry=RetryPolicy(0.01, 0.02)),
            )
            sink.close()
            lines = [orjson.dumps(r) for r in listener.accepted]
        letters = [
            orjson.loads(x) for f in dlq.glob("*.ndjson") for x in f.read_bytes().splitlines()
        ]
        return lines, letters, summary.to_json_dict()

    inline_lines, inline_letters, inline_summary = run(1)
    pool_lines, pool_letters, pool_summary = run(2)
    assert pool_lines == inline_lines
    assert len(pool_lines) == 3000
    assert [(d["offset"], d["raw"]) for d in pool_letters] == [
        (d["offset"], d["raw"]) for d in inline_letters
    ]
    assert pool_letters[0]["offset"] == cut
    for key in ("records", "shipped", "rejected", "batches"):
        assert pool_summary[key] == inline_summary[key], key
