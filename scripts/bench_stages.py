#!/usr/bin/env python3
"""Where the time goes: each stage of the Logz.io path alone, in one thread.

    python scripts/bench_stages.py [OBJECT.log.gz]    (default: the 256 MB object of bench.py)

Streams the object through the real modules one 1 MiB chunk at a time, as the pipeline
does, timing each stage's CPU separately, and prints the seconds and microseconds per
record of each, then what they add up to as MB/s on one core. `scripts/bench.py` measures
the whole pipeline (threads, batching, HTTP); this says which part to work on.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path.insert(0, str(REPO / "functions"))

from auditship.model import ObjectRef, Record  # noqa: E402
from auditship.sinks.logzio import LogzioSink  # noqa: E402
from auditship.transforms import fastpath  # noqa: E402
from auditship.transforms.decode import decode_stream  # noqa: E402
from auditship.transforms.normalize import Normalizer  # noqa: E402
from auditship.transforms.prepare import WindowCutter  # noqa: E402
from auditship.transforms.repair import DEFAULT_MAX_RECORD_BYTES, RecordSplitter  # noqa: E402

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover
    import gzip as _gzip  # type: ignore[no-redef]  # the same API, where isal has no wheel

DEFAULT_OBJECT = REPO / ".bench" / "audit-connector-256000000B-s1-t0.02-z6.log.gz"


class Stages:
    """CPU seconds per stage, accumulated chunk by chunk."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, label: str, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.process_time()
        out = fn(*args)
        self.seconds[label] = self.seconds.get(label, 0.0) + time.process_time() - started
        return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("object", nargs="?", default=str(DEFAULT_OBJECT))
    args = p.parse_args(argv)
    path = Path(args.object)
    if not path.exists():
        print(f"{path} does not exist: run scripts/bench.py first (it caches it)", file=sys.stderr)
        return 2
    compressed = path.read_bytes()
    name = path.name
    sink = LogzioSink("http://unused.invalid", "", log_type="oci-audit")
    normalizer = Normalizer()
    obj = ObjectRef(name)
    splitter = RecordSplitter(name)
    stages = Stages()
    step = 1024 * 1024
    decoded = decode_stream(
        (compressed[i : i + step] for i in range(0, len(compressed), step)), name
    )
    size = records = 0
    batch: list[bytes] = []
    held = 0

    def flush() -> None:
        nonlocal batch, held
        _gzip.compress(b"\n".join(batch), 1)
        batch, held = [], 0

    def lines_of(found: list[Any]) -> list[bytes]:
        normalized = stages.run(
            "normalize (time, redaction)",
            lambda: [normalizer(body) for body in (f[1] for f in found if isinstance(f, tuple))],
        )
        return stages.run(
            "Logz.io line (keys, orjson dumps)",
            lambda: [
                sink.prepare(Record(0, 0, n[0], n[1]), obj).payload
                for n in normalized
                if n is not None
            ],
        )

    def batch_up(lines: list[bytes]) -> None:
        nonlocal held
        for line in lines:
            if held + len(line) > 3 * 1024 * 1024:
                flush()
            batch.append(line)
            held += len(line) + 1

    # Stages hand each other lists of one chunk's records, where the pipeline streams them
    # one by one; the cyclic GC would rescan those lists' containers over and over (a
    # cost the pipeline does not have), so it is off while timing.
    gc.disable()
    while True:
        chunk = stages.run("gunzip (ISA-L, 1 MiB chunks)", next, decoded, None)
        if chunk is not None and not isinstance(chunk, bytes):
            print(f"damaged object: {chunk.error}", file=sys.stderr)
            return 1
        final = chunk is None
        if chunk is not None:
            size += len(chunk)
        found = stages.run(
            "find + parse records (regex, orjson)",
            list,
            splitter.finish() if chunk is None else splitter.feed(chunk),
        )
        lines = lines_of(found)
        records += len(lines)
        stages.run("3 MiB batches: join + gzip level 1", batch_up, lines)
        if final:
            break
    stages.run("3 MiB batches: join + gzip level 1", flush)
    gc.enable()

    # The C fast path does find + parse + normalize + line in one call per window; timed
    # on the same bytes, cut into windows as NativeStage cuts them, for comparison.
    fast = None
    spec = fastpath.spec_for(normalizer, sink, DEFAULT_MAX_RECORD_BYTES)
    if spec is not None:
        cutter = WindowCutter()
        windows: list[tuple[int, bytes | memoryview]] = []
        for chunk in decode_stream([compressed], name):  # 1 MiB pieces, as the reader does
            if isinstance(chunk, bytes):
                windows.extend((base, bytes(window)) for base, window in cutter.feed(chunk))
        windows.extend(cutter.finish())
        started = time.process_time()
        for base, window in windows:
            fastpath.prepare_window(
                window, base, obj, normalizer, sink, DEFAULT_MAX_RECORD_BYTES, spec
            )
        fast = time.process_time() - started

    total = sum(stages.seconds.values())
    print(f"{name}: {size / 1e6:,.0f} MB decompressed, {records:,} records")
    print(f"{'stage':<40} {'CPU s':>7} {'µs/record':>10}")
    for label, seconds in stages.seconds.items():
        print(f"{label:<40} {seconds:>7.2f} {seconds / records * 1e6:>10.2f}")
    print(f"{'sum':<40} {total:>7.2f} {total / records * 1e6:>10.2f}")
    print(f"=> {size / total / 1e6:,.0f} MB/s on one core for these stages, without the pipeline")
    if fast is not None:
        print(
            f"C fast path instead of the three middle stages: {fast:.2f} s, "
            f"{fast / records * 1e6:.2f} µs/record ({fastpath.describe()})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
