"""Fast path: the Logz.io hot path (split, validate, normalize, serialize) in C.

`auditship._fastprep` (native/fastprep.c, on yyjson) takes every record that is plainly
fine and prepares its Logz.io line without the GIL; at anything else it stops and hands
the stretch up to the next safe cut (further, if a record is cut off there) to the Python
path (`repair.RecordSplitter`, `normalize.Normalizer`, `LogzioSink.prepare`), which stays
the reference: rejects, wrappers, numeric times, duplicate keys, deep nesting and oversized
records are always decided there. The differential tests (tests/test_fastpath.py,
tests/test_prepare.py) hold the C path to what `prepare.prepare_window_py` gives for the
same window: the same items at the same offsets, the same JSON values.

`NativeStage` prepares windows in threads: the C call releases the GIL, as ISA-L's gunzip
and gzip do, so one process uses every core with no pipes between processes.

The extension is optional (built by `pip install -e .`, or by `native/build.py`, which the
functions' Dockerfile runs; see the README). `spec_for` returns None, and the pure-Python
stages run, when it is missing, when `FAST_PATH=off`, for sinks other than Logz.io, and
with an action filter.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from auditship.model import ObjectRef, Reject, RejectKind
from auditship.sinks.base import Sink
from auditship.transforms.normalize import Normalizer
from auditship.transforms.prepare import (
    DEFAULT_WINDOW_BYTES,
    SAFE_CUT,
    Window,
    WindowedStage,
    prepare,
)
from auditship.transforms.repair import RecordSplitter

try:
    import auditship._fastprep as _fastprep
except ImportError:  # not built here: the pure-Python path runs
    _fastprep = None  # type: ignore[assignment]  # the module or None; callers check

AVAILABLE = _fastprep is not None

Spec = tuple[Any, ...]  # what _fastprep.prepare takes; built by spec_for
# Longer records go to the Python path: yyjson's documents take ~20 bytes per byte of
# small values, and a record this long is over Logz.io's line limit (refused) anyway.
FAST_MAX_RECORD_BYTES = 512 * 1024


def describe(enabled: bool = True) -> str:
    """One line for logs: which path prepares Logz.io records, and why."""
    if _fastprep is None:
        return "pure Python (the C fast path is not built here)"
    if not enabled:
        return "pure Python (FAST_PATH=off)"
    return f"C fast path (yyjson {_fastprep.YYJSON_VERSION}) for Logz.io, Python otherwise"


def spec_for(normalize: Normalizer, sink: Sink, max_record_bytes: int) -> Spec | None:
    """The C path's settings for this normalizer and sink, or None when it cannot run."""
    if _fastprep is None or normalize.actions is not None:
        return None
    fast_spec = getattr(sink, "fast_spec", None)
    if fast_spec is None:
        return None
    log_type = fast_spec()
    steps = [(tuple(container), tuple(sorted(names))) for container, names in normalize.redact_plan]
    # Longer lines are refused by the batcher (prepare.prepare): hand those over.
    max_line = sink.limits.largest_item
    spec = (tuple(steps), log_type, max_line, min(max_record_bytes, FAST_MAX_RECORD_BYTES))
    try:  # the C side checks the plan (sizes; names lower-case ASCII): an empty call tells
        _fastprep.prepare(b"", 0, 0, spec, bytearray(), [], [], [])
    except ValueError:
        return None  # e.g. Unicode case rules, which are Python's: keep every record there
    return spec


def prepare_window(
    data: bytes | memoryview,
    base: int,
    obj: ObjectRef,
    normalize: Normalizer,
    sink: Sink,
    max_record_bytes: int,
    spec: Spec,
) -> Window:
    """Repair, normalize and prepare one window (it ends at a safe cut or at the end of the
    stream), as `prepare.prepare_window_py` does, taking plain records in C."""
    assert _fastprep is not None
    window = Window()
    pos, n = 0, len(data)
    while pos < n:
        pos, status = _fastprep.prepare(
            data, pos, base, spec, window.kinds, window.offsets, window.payloads, window.sizes
        )
        if status == _fastprep.DONE:
            break
        # The window ends inside a record, or something at `pos` is not plainly fine:
        # the Python path takes it, up to a safe cut after which it is on firm ground.
        pos = _hand_over(data, pos, base, obj, normalize, sink, max_record_bytes, window)
    return window


_MAX_EXTENSIONS = 8  # then the piece runs to the end of the window (no quadratic re-splits)


def _hand_over(
    data: bytes | memoryview,
    pos: int,
    base: int,
    obj: ObjectRef,
    normalize: Normalizer,
    sink: Sink,
    max_record_bytes: int,
    window: Window,
) -> int:
    """Prepare `data[pos:cut]` with the Python path, as the tail of a whole stream (what
    `prepare_window_py` does with the whole window), and return `cut`.

    `cut` is the next safe cut, unless the Python path finds a record there that is cut
    off at it: then its stretch goes on past that cut (the whole window would not have
    ended it there), so the piece is taken again up to the following one, and so on."""
    n = len(data)
    found = SAFE_CUT.search(data, pos)
    cut = found.end() - 1 if found is not None else n
    for extensions in itertools.count():
        splitter = RecordSplitter(obj.name, max_record_bytes, base_offset=base + pos)
        items = list(splitter.split_all(bytes(data[pos:cut])))
        last = items[-1] if items else None
        if cut >= n or not (type(last) is Reject and last.kind is RejectKind.CUT_OFF):
            break
        found = SAFE_CUT.search(data, cut) if extensions < _MAX_EXTENSIONS else None
        cut = found.end() - 1 if found is not None else n  # then the rest of the window
    prepare(items, obj, normalize, sink, window)
    return cut


class NativeStage(WindowedStage):
    """Windows prepared by the C fast path in `threads` threads of this process."""

    def __init__(
        self,
        obj: ObjectRef,
        normalize: Normalizer,
        sink: Sink,
        max_record_bytes: int,
        spec: Spec,
        threads: int,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        super().__init__(obj, normalize, sink, max_record_bytes, 2 * threads, window_bytes)
        self._spec = spec
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fastprep")

    def _start(self, base: int, data: bytes | memoryview) -> Future[Window]:
        assert self._pool is not None
        obj, normalize, sink = self._args
        return self._pool.submit(
            prepare_window, data, base, obj, normalize, sink, self._max_record, self._spec
        )
