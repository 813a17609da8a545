#!/usr/bin/env python3
"""Benchmark the audit shipper against the product bars, in one run.

    python scripts/bench.py [--quick] [--json results.json]

What it measures (MB = 10**6 bytes throughout; sizes are decompressed unless marked gz):

1. Objects: realistic Service Connector objects from `scripts/auditgen.py` (layout
   `connector`, 2% tricky records, gzip level 6), cached under `.bench/` (git-ignored):
   `--mb` (throughput, default 256), `--rss-mb` (peak RSS, default 1024) and a ~100 MB
   *compressed* object (`--gz100-mb`, default: calibrated from a sample's ratio).
2. Baseline A: `zcat OBJ | jq -c . > /dev/null`, MB/s of decompressed input.
3. Baseline B: the seed 002 proof of concept (whole object in memory, `}{`/`\\n` string
   surgery, `json.loads`, `logzio_string += json.dumps(r) + '\\n'`, one POST) ported
   faithfully to post to a loopback listener; as written it fails on objects that end with
   a newline, so it is also run with the smallest possible fix (`.strip()` before wrapping)
   to measure the approach. Run on a ladder of sizes, and on the `--mb` object only when
   the ladder says it can finish within the timeout and memory.
4. Ours: `scripts/ship.py OBJ --to logzio` against `scripts/bench_listener.py` in another
   process (every record is counted there and compared with the generator's count): MB/s
   and ratio to A on the `--mb` object, peak RSS on the `--rss-mb` object, wall time on the
   ~100 MB gzip object pinned to one core (`taskset -c 0`, listener on another core).
5. Ours, PutLogs: `scripts/ship.py OBJ --to oci-logging` with a throwaway API key and config
   file, against the listener in PutLogs mode, when `auditship.sinks.oci_logging` imports.
6. The floor: one Python process (same interpreter and environment as ours, its start
   counted in the wall time the same way) that reads the `--mb` object in 1 MiB chunks,
   gunzips it with ISA-L (`isal_zlib.decompressobj`, streaming, every gzip member) and
   gzips the decompressed bytes with ISA-L level 1 (`igzip.compress(batch, 1)`, as the
   Logz.io sink compresses its requests) in 3 MiB batches, discarding the output: no
   parsing, no HTTP, one thread. It says what this machine's CPU makes of the part of the
   work no implementation can skip; every "Ours → Logz.io" row is reported as a share of
   it: floor seconds / our seconds on the same object (our MB/s / the floor's MB/s for
   rows on other objects); 100 % would be as fast as gunzip + gzip alone.

Peak RSS is the measured process's own `ru_maxrss` from `os.wait4` on its pid. Every
subprocess has a timeout (`--timeout`, default 300 s like the function limit). Loopback only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import gzip
import hashlib
import io
import itertools
import json
import os
import platform
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
MB = 1_000_000
LAYOUT = "connector"
TOKEN = "benchtoken"  # noqa: S105 - a loopback listener's dummy token
LOG_ID = "ocid1.log.oc1..bench"
BAR_RATIO = 8.0
BAR_RSS_MB = 110.0
BAR_FLOOR_SHARE = 0.5  # ours as a share of the floor (issue 9: about half today)
FLOOR_READ_BYTES = 1024 * 1024  # as sources/local.py reads a file
FLOOR_BATCH_BYTES = 3145728  # LOGZIO_MAX_BATCH_BYTES' default
FLOOR_LEVEL = 1  # LOGZIO_COMPRESS_LEVEL's default (ISA-L levels 0-3)
FUNCTION_LIMIT_S = 300.0
# Settings the operator command reads from the environment; the bench passes its own.
_SETTINGS_ENV_PREFIXES = (
    "LOGZIO_",
    "OCI_",
    "FILTER_ACTIONS",
    "REDACT_PATHS",
    "MAX_RECORD_",
    "HTTP_TIMEOUT",
    "DEADLINE_MARGIN",
    "DEAD_LETTER_",
    "LEDGER_PREFIX",
    "FAST_PATH",
    "WORKERS",
    "METRICS_",  # an operator's metrics settings would post from the benchmark
    "FMW_TYPE",
    "DBAUDIT_",
    "SWEEP_",
)


def log(msg: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {stamp}] {msg}", file=sys.stderr, flush=True)


# -- objects ---------------------------------------------------------------------------


@dataclass
class BenchObject:
    path: str
    records: int
    raw_bytes: int
    gz_bytes: int

    @property
    def raw_mb(self) -> float:
        return self.raw_bytes / MB

    @property
    def gz_mb(self) -> float:
        return self.gz_bytes / MB

    def describe(self) -> str:
        return f"{self.raw_mb:,.0f} MB ({self.gz_mb:,.1f} MB gz, {self.records:,} rec)"


def _generator_digest() -> str:
    return hashlib.sha256((SCRIPTS / "auditgen.py").read_bytes()).hexdigest()[:16]


def _generate(path: str, target: int, seed: int, tricky: float, level: int) -> tuple[int, int]:
    sys.path.insert(0, str(SCRIPTS))
    import auditgen  # the one generator, reused as is

    return auditgen.write_object(path, target, LAYOUT, seed, tricky, compresslevel=level)


class ObjectCache:
    def __init__(self, root: Path, seed: int, tricky: float, level: int) -> None:
        self.root = root
        self.seed = seed
        self.tricky = tricky
        self.level = level
        self.digest = _generator_digest()
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, target: int) -> Path:
        name = f"audit-{LAYOUT}-{target}B-s{self.seed}-t{self.tricky:g}-z{self.level}.log.gz"
        return self.root / name

    def cached(self, target: int) -> BenchObject | None:
        path = self.path_for(target)
        meta_path = path.with_suffix(".meta.json")
        if not (path.exists() and meta_path.exists()):
            return None
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") != self.digest or meta.get("gz_bytes") != path.stat().st_size:
            return None
        return BenchObject(str(path), meta["records"], meta["raw_bytes"], meta["gz_bytes"])

    def ensure(self, targets: Sequence[int], workers: int) -> dict[int, BenchObject]:
        found = {t: o for t in targets if (o := self.cached(t)) is not None}
        todo = sorted({t for t in targets if t not in found}, reverse=True)
        if todo:
            log(f"generating {len(todo)} object(s): {', '.join(f'{t / MB:g} MB' for t in todo)}")
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {}
            for t in todo:
                tmp = self.path_for(t).with_suffix(".tmp")
                args = (str(tmp), t, self.seed, self.tricky, self.level)
                futures[pool.submit(_generate, *args)] = (t, tmp)
            for fut in concurrent.futures.as_completed(futures):
                t, tmp = futures[fut]
                records, raw = fut.result()
                path = self.path_for(t)
                tmp.replace(path)
                meta: dict[str, Any] = {
                    "records": records,
                    "raw_bytes": raw,
                    "gz_bytes": path.stat().st_size,
                    "layout": LAYOUT,
                    "seed": self.seed,
                    "tricky": self.tricky,
                    "compresslevel": self.level,
                    "generator": self.digest,
                }
                path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=1))
                found[t] = BenchObject(str(path), records, raw, meta["gz_bytes"])
                log(f"  {path.name}: {found[t].describe()}")
        return found

    def calibrate(self, gz_target: int) -> int:
        """Decompressed size whose gzip is about `gz_target` bytes (from a 16 MB sample)."""
        key = self.root / f"calibration-s{self.seed}-t{self.tricky:g}-z{self.level}.json"
        if key.exists():
            meta = json.loads(key.read_text())
            if meta.get("generator") == self.digest:
                return int(gz_target * meta["ratio"] / MB) * MB
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            sample = os.path.join(tmp, "sample.gz")
            _, raw = _generate(sample, 16 * MB, self.seed, self.tricky, self.level)
            ratio = raw / os.path.getsize(sample)
        key.write_text(json.dumps({"ratio": ratio, "generator": self.digest}))
        log(f"compression ratio {ratio:.2f}x (gzip -{self.level})")
        return int(gz_target * ratio / MB) * MB


# -- measured subprocesses -------------------------------------------------------------


@dataclass
class Measured:
    cmd: list[str]
    returncode: int | None
    timed_out: bool
    wall_s: float
    max_rss_kb: int
    cpu_user_s: float
    cpu_sys_s: float
    stdout: str
    stderr: str
    machine_cpu_s: float | None = None  # all CPUs, any process, while it ran (/proc/stat)
    steal_s: float | None = None  # taken by the hypervisor while it ran

    @property
    def rss_mb(self) -> float:
        return self.max_rss_kb * 1024 / MB

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    busy = fields[0] + fields[1] + fields[2] + sum(fields[5:7])  # user nice system irq softirq
    steal = fields[7] if len(fields) > 7 else 0
    return busy / _TICKS, steal / _TICKS


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far (/proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def other_work(m: Measured, helper_cpu_s: float = 0.0) -> float | None:
    """CPU seconds other processes (not the measured one, its children or `helper`) used
    while it ran: work of other users of the machine, which makes the row pessimistic."""
    if m.machine_cpu_s is None:
        return None
    return max(0.0, m.machine_cpu_s - m.cpu_s - helper_cpu_s)


def _pin(cpus: set[int] | None) -> tuple[list[str], Callable[[], None] | None]:
    """A command prefix (taskset) or a preexec_fn that pins the child to `cpus`."""
    if cpus is None:
        return [], None
    if shutil.which("taskset"):
        return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))], None
    return [], lambda: os.sched_setaffinity(0, cpus)


def run_measured(
    cmd: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cpus: set[int] | None = None,
    keep_stdout: bool = False,
) -> Measured:
    """Run `cmd` in its own session; wall time, and the child's own rusage via wait4."""
    prefix, preexec = _pin(cpus)
    full = prefix + cmd  # taskset execs the command: same pid, so wait4 sees its rusage
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        machine0 = _machine_cpu()
        started = time.perf_counter()
        proc = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=out if keep_stdout else subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=preexec,
        )
        box: dict[str, Any] = {}

        def reap() -> None:
            box["r"] = os.wait4(proc.pid, 0)
            box["t"] = time.perf_counter()
            box["m"] = _machine_cpu()

        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        try:
            waiter.join(timeout)
        except BaseException:  # Ctrl-C or SIGTERM: do not leave the child running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        timed_out = waiter.is_alive()
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            waiter.join(60)
        _, status, usage = box["r"]
        proc.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(ProcessLookupError):  # leftovers of a killed pipeline
            os.killpg(proc.pid, signal.SIGKILL)
        machine1 = box.get("m")
        out.seek(0)
        err.seek(0, io.SEEK_END)
        err.seek(max(0, err.tell() - 65536))
        return Measured(
            cmd=full,
            returncode=None if timed_out else proc.returncode,
            timed_out=timed_out,
            wall_s=box["t"] - started,
            max_rss_kb=usage.ru_maxrss,
            cpu_user_s=usage.ru_utime,
            cpu_sys_s=usage.ru_stime,
            stdout=out.read().decode("utf-8", "replace") if keep_stdout else "",
            stderr=err.read().decode("utf-8", "replace"),
            machine_cpu_s=machine1[0] - machine0[0] if machine0 and machine1 else None,
            steal_s=machine1[1] - machine0[1] if machine0 and machine1 else None,
        )


# -- listener --------------------------------------------------------------------------

_LIVE: list[subprocess.Popen[bytes]] = []


class Listener:
    """`scripts/bench_listener.py` in its own process; `stop()` returns its counters."""

    def __init__(self, python: str, mode: str, cpus: set[int] | None = None) -> None:
        prefix, preexec = _pin(cpus)
        cmd = [*prefix, python, str(SCRIPTS / "bench_listener.py"), "--mode", mode]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=preexec,
        )
        _LIVE.append(self.proc)
        first = self._readline(timeout=30)
        try:
            self.port = int(json.loads(first)["port"])
        except (ValueError, KeyError) as exc:
            self.kill()
            raise RuntimeError(f"listener did not start: {first!r}") from exc
        self.url = f"http://127.0.0.1:{self.port}"

    def _readline(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        sel.close()
        return buf.decode("utf-8", "replace")

    def stop(self) -> dict[str, Any]:
        try:  # communicate() closes stdin: the listener prints its counters and exits
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            return {"error": "listener did not stop"}
        finally:
            if self.proc in _LIVE:
                _LIVE.remove(self.proc)
        lines = [x for x in out.decode("utf-8", "replace").splitlines() if x.strip()]
        return json.loads(lines[-1]) if lines else {"error": "listener printed no counters"}

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc in _LIVE:
            _LIVE.remove(self.proc)


def _kill_live_listeners() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _LIVE.remove(proc)


@contextlib.contextmanager
def listening(python: str, mode: str, cpus: set[int] | None = None) -> Iterator[Listener]:
    listener = Listener(python, mode, cpus)
    try:
        yield listener
    finally:
        if listener.proc.poll() is None and listener.proc in _LIVE:
            listener.kill()


# -- results ---------------------------------------------------------------------------


@dataclass
class Row:
    path: str
    obj: BenchObject
    status: str  # ok | failed | timeout | skipped | error
    wall_s: float | None = None
    rss_mb: float | None = None
    cpu_s: float | None = None
    ratio_vs_jq: float | None = None
    share_of_floor: float | None = None
    records_delivered: int | None = None
    bar: str = ""
    note: str = ""
    repeats: list[float] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    # per run: cores other processes kept busy meanwhile (see `other_work`)
    other_cores: list[float] = field(default_factory=list)

    def track_other(self, m: Measured, helper_cpu_s: float = 0.0) -> None:
        other = other_work(m, helper_cpu_s)
        if other is not None and m.wall_s > 0:
            self.other_cores.append(round(other / m.wall_s, 3))

    @property
    def mb_s(self) -> float | None:
        if self.status != "ok" or not self.wall_s:
            return None
        return self.obj.raw_mb / self.wall_s

    @property
    def rec_s(self) -> float | None:
        if self.status != "ok" or not self.wall_s:
            return None
        return self.obj.records / self.wall_s

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["obj"] = asdict(self.obj)
        d["mb_s"] = self.mb_s
        d["records_s"] = self.rec_s
        return d


def _cpu_busy(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy (any process) over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return round(1 - (idle1 - idle0) / total, 3) if total > 0 else None


def _loadavg() -> list[float]:
    with contextlib.suppress(OSError):
        return [round(x, 2) for x in os.getloadavg()]
    return []


# -- baseline A: zcat | jq -------------------------------------------------------------


def bench_jq(obj: BenchObject, repeat: int, timeout: float) -> Row:
    script = 'set -o pipefail; zcat -- "$1" | jq -c . > /dev/null'
    walls: list[float] = []
    last: Measured | None = None
    probe = Row("A: zcat | jq -c .", obj, "ok")
    for i in range(repeat):
        log(f"baseline A: zcat | jq -c . on {obj.raw_mb:,.0f} MB ({i + 1}/{repeat})")
        m = run_measured(["bash", "-c", script, "bench", obj.path], timeout=timeout)
        probe.track_other(m)
        last = m
        if m.timed_out or m.returncode != 0:
            break
        walls.append(m.wall_s)
    assert last is not None
    if last.timed_out:
        return Row("A: zcat | jq -c .", obj, "timeout", note=f"did not finish in {timeout:g} s")
    if last.returncode != 0:
        return Row("A: zcat | jq -c .", obj, "error", note=last.stderr.strip()[-300:])
    return Row(
        "A: zcat | jq -c .",
        obj,
        "ok",
        wall_s=statistics.median(walls),
        rss_mb=last.rss_mb,
        cpu_s=last.cpu_user_s + last.cpu_sys_s,
        ratio_vs_jq=1.0,
        note=f"median of {len(walls)}" if len(walls) > 1 else "",
        repeats=walls,
        other_cores=probe.other_cores,
    )


# -- the floor: ISA-L gunzip + gzip -1 of the same bytes, no parsing -----------------

# Run as `python -c _FLOOR_SCRIPT OBJ READ BATCH LEVEL`: only what the floor needs is
# imported, so its wall time is interpreter start + import isal + the work, as ours is
# interpreter start + its imports + its work. Prints one JSON line of counters.
_FLOOR_SCRIPT = """
import json, sys, time
from isal import igzip, isal_zlib

path, read, batch, level = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
raw = gz_out = batches = members = 0
pending = bytearray()


def gzip_batches(final):
    global gz_out, batches
    view = memoryview(pending)
    done = 0
    while len(pending) - done >= batch or (final and done < len(pending)):
        gz_out += len(igzip.compress(view[done : done + batch], level))
        done += min(batch, len(pending) - done)
        batches += 1
    view.release()
    del pending[:done]


d = isal_zlib.decompressobj(31)
used = False
with open(path, "rb", buffering=0) as fh:
    while chunk := fh.read(read):
        while chunk:
            out = d.decompress(chunk, read)
            used = True
            if out:
                raw += len(out)
                pending += out
                if len(pending) >= batch:
                    gzip_batches(False)
            if d.eof:
                members += 1
                chunk = d.unused_data
                d, used = isal_zlib.decompressobj(31), False
            else:
                chunk = d.unconsumed_tail
    while used and not d.eof:  # what the inflater holds back: drain it
        out = d.decompress(b"", read)
        if not out:
            break
        raw += len(out)
        pending += out
    if used and not d.eof:
        sys.exit("truncated gzip stream")
gzip_batches(True)
print(json.dumps({"raw_bytes": raw, "gz_bytes_out": gz_out, "batches": batches,
                  "members": members, "seconds": round(time.perf_counter() - started, 3)}))
"""


def bench_floor(
    python: str, obj: BenchObject, repeat: int, timeout: float, env: dict[str, str]
) -> Row:
    label = f"Floor: ISA-L gunzip + gzip -{FLOOR_LEVEL} in 1 process, no parsing"
    cmd = [
        python,
        "-c",
        _FLOOR_SCRIPT,
        obj.path,
        str(FLOOR_READ_BYTES),
        str(FLOOR_BATCH_BYTES),
        str(FLOOR_LEVEL),
    ]
    walls: list[float] = []
    row = Row(label, obj, "ok")
    res: dict[str, Any] = {}
    for i in range(repeat):
        log(f"floor: ISA-L gunzip + gzip -{FLOOR_LEVEL} on {obj.raw_mb:,.0f} MB ({i + 1}/{repeat})")
        m = run_measured(cmd, timeout=timeout, env=env, keep_stdout=True)
        row.track_other(m)
        row.rss_mb = max(row.rss_mb or 0.0, m.rss_mb)
        row.cpu_s = m.cpu_user_s + m.cpu_sys_s
        if m.timed_out:
            row.status, row.note = "timeout", f"did not finish in {timeout:g} s"
            break
        try:
            res = json.loads(m.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {}
        if m.returncode != 0 or res.get("raw_bytes") != obj.raw_bytes:
            got = res.get("raw_bytes")
            row.status = "error"
            tail = m.stderr.strip()[-300:]
            row.note = f"exit {m.returncode}, {got} of {obj.raw_bytes} bytes: {tail}"
            break
        walls.append(m.wall_s)
    row.repeats = walls
    row.detail = {"floor": res, "cmd": [python, "-c", "<_FLOOR_SCRIPT>", *cmd[3:]]}
    if row.status == "ok":
        row.wall_s = statistics.median(walls)
        row.share_of_floor = 1.0
        n = len(walls)
        cores = (row.cpu_s or 0) / row.wall_s if row.wall_s else 0
        row.note = (f"median of {n}; " if n > 1 else "") + (
            f"{res['members']} gzip member(s) in, {res['batches']} batches of "
            f"{FLOOR_BATCH_BYTES / MB:.2f} MB gzipped to {res['gz_bytes_out'] / MB:,.1f} MB; "
            f"CPU {row.cpu_s:.1f} s = {cores:.2f} cores busy; in-process {res['seconds']} s"
        )
    return row


def share_of_floor(row: Row, floor: Row) -> float | None:
    """Floor seconds / our seconds on the same object; by MB/s on another object."""
    if row.status != "ok" or floor.status != "ok" or not row.wall_s or not floor.wall_s:
        return None
    if row.obj.path == floor.obj.path:
        return floor.wall_s / row.wall_s
    ours, base = row.mb_s, floor.mb_s
    return ours / base if ours and base else None


# -- baseline B: the seed 002 proof of concept -------------------------------------------


def poc_handler(
    path: str, logzio_url: str, logzio_token: str, fix: bool, marks: list[tuple[str, float]]
) -> int:
    """Seed 002's `func.py` body, statement for statement, minus fdk/OCI plumbing: the
    object's bytes come from a local file instead of `client.get_object(...)`, the URL is
    http:// to a loopback listener, and `marks` records when each step ended."""
    import requests

    t = time.perf_counter
    marks.append(("start", t()))
    with open(path, "rb") as fh:  # audit_data.data.content
        content = fh.read()
    marks.append(("read object", t()))
    audit_bytesio = io.BytesIO(content)
    z = gzip.GzipFile(fileobj=audit_bytesio, mode="rb")
    audit_data_text = z.read()
    z.close()
    marks.append(("gunzip (GzipFile.read)", t()))
    url_string = "http://" + logzio_url + "/?token=" + logzio_token + "&type=http-bulk"
    if fix:  # the one change: drop the final newline, which otherwise leaves `,]`
        data_string = "[" + audit_data_text.decode("utf-8").strip() + "]"
    else:
        data_string = "[" + audit_data_text.decode("utf-8") + "]"
    data_string = data_string.replace("\n", "\n,")
    data_string = data_string.replace("}{", "},{")
    marks.append(("decode + replace", t()))
    json_string = json.loads(data_string)
    marks.append(("json.loads", t()))
    logzio_string = ""
    for record in json_string:
        logzio_string += json.dumps(record) + "\n"
    marks.append(("json.dumps += loop", t()))
    resp = requests.post(url_string, data=logzio_string)  # noqa: S113 - as in the PoC
    marks.append(("requests.post", t()))
    if resp.status_code != 200:
        raise Exception("Unexpected HTTP status code received")
    return len(json_string)


def poc_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench.py _poc")
    p.add_argument("object")
    p.add_argument("host_port")
    p.add_argument("--fix", action="store_true")
    a = p.parse_args(argv)
    marks: list[tuple[str, float]] = []
    result: dict[str, Any] = {"ok": False}
    try:
        result["records"] = poc_handler(a.object, a.host_port, TOKEN, a.fix, marks)
        result["ok"] = True
    except Exception as exc:  # the PoC logs and re-raises; we report what failed, where
        result["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    phases = {}
    for (_, prev), (name, now) in itertools.pairwise(marks):
        phases[name] = round(now - prev, 3)
    result["phases"] = phases
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


def bench_poc(python: str, obj: BenchObject, fix: bool, timeout: float, env: dict[str, str]) -> Row:
    label = "B: PoC 002 + strip() fix" if fix else "B: PoC 002 as written"
    log(f"{label} on {obj.raw_mb:,.0f} MB")
    with listening(python, "logzio") as lst:
        cmd = [python, str(Path(__file__).resolve()), "_poc", obj.path, f"127.0.0.1:{lst.port}"]
        listener_cpu0 = _process_cpu(lst.proc.pid)
        m = run_measured(
            cmd + (["--fix"] if fix else []), timeout=timeout, env=env, keep_stdout=True
        )
        listener_cpu1 = _process_cpu(lst.proc.pid)
        got = lst.stop()
    row = Row(label, obj, "ok", wall_s=m.wall_s, rss_mb=m.rss_mb, cpu_s=m.cpu_user_s + m.cpu_sys_s)
    if listener_cpu0 is not None and listener_cpu1 is not None:
        row.track_other(m, listener_cpu1 - listener_cpu0)
    row.records_delivered = got.get("records")
    row.detail = {"listener": got, "loadavg_after": _loadavg()}
    if m.timed_out:
        row.status, row.wall_s = "timeout", None
        row.note = f"did not finish in {timeout:g} s (peak RSS so far {m.rss_mb:,.0f} MB)"
        return row
    try:
        res = json.loads(m.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {"ok": False, "error": f"exit {m.returncode}: {m.stderr.strip()[-300:]}"}
    row.detail["poc"] = res
    phases = res.get("phases", {})
    if phases:
        row.note = "phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
    if not res.get("ok"):
        row.status = "failed"
        row.note = f"{res.get('error')} after {m.wall_s:.1f} s; " + row.note
    elif row.records_delivered != obj.records:
        row.status = "failed"
        row.note = f"listener got {row.records_delivered} of {obj.records} records; " + row.note
    return row


# -- ours ------------------------------------------------------------------------------


def _summary(stderr: str) -> dict[str, Any]:
    for line in reversed(stderr.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                return json.loads(line)
    return {}


def bench_ship(
    python: str,
    obj: BenchObject,
    *,
    label: str,
    to: str,
    timeout: float,
    env: dict[str, str],
    work: Path,
    repeat: int = 1,
    cpus: set[int] | None = None,
    listener_cpus: set[int] | None = None,
    extra: Sequence[str] = (),
) -> Row:
    mode = "logzio" if to == "logzio" else "putlogs"
    walls: list[float] = []
    rss: list[float] = []
    row = Row(label, obj, "ok")
    for i in range(repeat):
        log(f"{label} on {obj.raw_mb:,.0f} MB ({i + 1}/{repeat})")
        dead = work / f"dead-letter-{os.getpid()}-{time.monotonic_ns()}"
        with listening(python, mode, listener_cpus) as lst:
            cmd = [
                python,
                str(SCRIPTS / "ship.py"),
                obj.path,
                "--to",
                to,
                "--progress",
                "never",
                "--dead-letter-dir",
                str(dead),
                *extra,
            ]
            if to == "logzio":
                cmd += ["--logzio-url", lst.url, "--logzio-token", TOKEN]
            else:
                cmd += ["--log-id", LOG_ID, "--logging-endpoint", lst.url]
            load_before = _loadavg()
            listener_cpu0 = _process_cpu(lst.proc.pid)
            m = run_measured(cmd, timeout=timeout, env=env, cpus=cpus)
            listener_cpu1 = _process_cpu(lst.proc.pid)
            got = lst.stop()
        listener_cpu = (
            listener_cpu1 - listener_cpu0
            if listener_cpu0 is not None and listener_cpu1 is not None
            else 0.0
        )
        row.track_other(m, listener_cpu)
        summary = _summary(m.stderr)
        row.detail = {
            "summary": summary,
            "listener": got,
            "loadavg_before": load_before,
            "loadavg_after": _loadavg(),
            "cpu_user_s": round(m.cpu_user_s, 2),
            "cpu_sys_s": round(m.cpu_sys_s, 2),
            "listener_cpu_s_during_run": round(listener_cpu, 2),
            "steal_s": None if m.steal_s is None else round(m.steal_s, 2),
            "cmd": [c if c != TOKEN else "***" for c in m.cmd],
        }
        row.records_delivered = got.get("records")
        row.cpu_s = m.cpu_user_s + m.cpu_sys_s
        rss.append(m.rss_mb)
        if m.timed_out:
            row.status, row.note = "timeout", f"did not finish in {timeout:g} s"
            break
        problems = []
        if m.returncode != 0:
            tail = m.stderr.strip().splitlines()[-3:]
            problems.append(f"exit {m.returncode}: {' | '.join(tail)[-400:]}")
        if summary.get("shipped") != obj.records:
            problems.append(f"summary shipped {summary.get('shipped')} of {obj.records}")
        if got.get("records") != obj.records:
            problems.append(f"listener counted {got.get('records')} of {obj.records} records")
        if got.get("errors"):
            problems.append(f"listener answered {got.get('statuses')}")
        if problems:
            row.status, row.note = "failed", "; ".join(problems)
            break
        walls.append(m.wall_s)
        with contextlib.suppress(OSError):
            if dead.exists() and not any(dead.rglob("*")):
                shutil.rmtree(dead)
    row.rss_mb = max(rss) if rss else None
    row.repeats = walls
    if row.status == "ok":
        row.wall_s = statistics.median(walls)
        n = len(walls)
        requests = row.detail["listener"].get("requests")
        inproc = row.detail["summary"].get("seconds")
        cores = (row.cpu_s or 0) / row.wall_s if row.wall_s else 0
        row.note = (f"median of {n}; " if n > 1 else "") + (
            f"all {obj.records:,} records counted by the listener in {requests} requests; "
            f"CPU {row.cpu_s:.1f} s = {cores:.2f} cores busy; ship_object {inproc} s"
        )
    return row


def _oci_config(root: Path) -> Path:
    """A throwaway API key and OCI config file (like tests/fakes/oci_auth.py)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    key_path = root / "bench-key.pem"
    key_path.write_bytes(pem)
    key_path.chmod(0o600)
    config = root / "config"
    config.write_text(
        "[DEFAULT]\n"
        "user=ocid1.user.oc1..aaaaaaaabenchuser\n"
        f"fingerprint={fingerprint}\n"
        "tenancy=ocid1.tenancy.oc1..aaaaaaaabenchtenancy\n"
        "region=us-ashburn-1\n"
        f"key_file={key_path}\n"
    )
    config.chmod(0o600)
    return config


def _oci_logging_available(python: str) -> str | None:
    """None if the PutLogs path can be benchmarked, else why not."""
    if not (REPO / "tests" / "fakes" / "logging_ingestion.py").exists():
        return "tests/fakes/logging_ingestion.py is not there"
    probe = subprocess.run(
        [python, "-c", "import auditship.sinks.oci_logging, cryptography"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    if probe.returncode != 0:
        return "auditship.sinks.oci_logging does not import: " + probe.stderr.strip()[-300:]
    return None


# -- machine info and report -----------------------------------------------------------


def _cmd_output(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({type(exc).__name__})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def machine_info(python: str) -> dict[str, Any]:
    cpu = ""
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    versions = _cmd_output(
        [
            python,
            "-c",
            "import sys, orjson, isal, requests; "
            "print(sys.version.split()[0], 'orjson', orjson.__version__, "
            "'isal', isal.__version__, 'requests', requests.__version__)",
        ]
    )
    dirty = _cmd_output(["git", "status", "--porcelain", "--", "functions", "scripts"])
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": versions,
        "python_path": python,
        "jq": _cmd_output(["jq", "--version"]),
        "gzip": _cmd_output(["gzip", "--version"]),
        "taskset": shutil.which("taskset") or "missing (using sched_setaffinity)",
        "git_head": _cmd_output(["git", "rev-parse", "--short", "HEAD"]),
        "worktree_dirty": bool(dirty),
        "loadavg_at_start": _loadavg(),
        "cpu_busy_at_start": _cpu_busy(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def render_table(rows: list[Row]) -> str:
    head = (
        "| Path | Object (decompressed / gz) | MB/s | records/s | peak RSS MB | wall s | "
        "x jq | share of floor | Bar | Result |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        result = r.status if not r.note else f"{r.status}: {r.note}"
        cells = [
            r.path,
            r.obj.describe(),
            _fmt(r.mb_s, ",.1f"),
            _fmt(r.rec_s, ",.0f"),
            _fmt(r.rss_mb, ",.0f"),
            _fmt(r.wall_s, ",.2f"),
            _fmt(r.ratio_vs_jq, ".2f"),
            _fmt(r.share_of_floor, ".0%"),
            r.bar,
            result,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------


def _default_python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _clean_env(python: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS_ENV_PREFIXES)}
    env["PYTHONPATH"] = str(REPO / "functions")  # the working tree, editable install or not
    env.pop("PYTHONSTARTUP", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# Imports what the measured command imports, then writes the bytecode of every module loaded
# (py_compile writes even under PYTHONDONTWRITEBYTECODE=1, which only stops the import system).
_COMPILE_BYTECODE = """
import py_compile, sys
import auditship.entrypoints.cli, auditship.sinks.logzio
import auditship.sources.object_storage, auditship.transforms.fastpath
try:
    import auditship.sinks.oci_logging
except ImportError:
    pass
done = 0
for module in list(sys.modules.values()):
    source = getattr(module, "__file__", None) or ""
    if source.endswith(".py"):
        try:
            py_compile.compile(source, doraise=True)
            done += 1
        except (py_compile.PyCompileError, OSError):
            pass
print(done)
"""


def compile_bytecode(python: str, env: dict[str, str]) -> int:
    """Write the bytecode of the modules ship.py imports, as `pip install` does for an
    installed package (and fn's image build does): the measured runs then start as they
    would in production instead of parsing every module's source (~0.2 s per run here,
    where PYTHONDONTWRITEBYTECODE=1 is set and the dev install uses --no-compile)."""
    out = subprocess.run(
        [python, "-c", _COMPILE_BYTECODE], env=env, capture_output=True, text=True, timeout=300
    )
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the audit shipper against the bars.")
    p.add_argument("--quick", action="store_true", help="small sizes (16/64/8 MB) for a smoke test")
    p.add_argument("--mb", type=float, help="throughput object, decompressed MB (default 256)")
    p.add_argument("--rss-mb", type=float, help="peak-RSS object, decompressed MB (default 1024)")
    p.add_argument(
        "--gz100-mb",
        type=float,
        help="one-core object, decompressed MB (default: calibrated so gzip is "
        "about --gz100-target-mb)",
    )
    p.add_argument("--gz100-target-mb", type=float, default=100.0)
    p.add_argument("--poc-mb", help="PoC ladder sizes, comma-separated (default 4,16,64)")
    p.add_argument("--no-poc", action="store_true", help="skip baseline B")
    p.add_argument("--no-oci-logging", action="store_true", help="skip the PutLogs path")
    p.add_argument("--repeat", type=int, help="runs of A and of ours on --mb (median; default 3)")
    p.add_argument("--timeout", type=float, default=FUNCTION_LIMIT_S, help="per process, s")
    p.add_argument(
        "--one-core-bar",
        type=float,
        default=FUNCTION_LIMIT_S / 2,
        help="'well under 300 s' means at most this many seconds (default 150)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tricky", type=float, default=0.02)
    p.add_argument("--compresslevel", type=int, default=6)
    p.add_argument("--cache-dir", default=str(REPO / ".bench"))
    p.add_argument("--python", default=_default_python(), help="interpreter for ship.py")
    p.add_argument("--json", help="write results here")
    a = p.parse_args(argv)
    q = a.quick
    a.mb = a.mb or (16 if q else 256)
    a.rss_mb = a.rss_mb or (64 if q else 1024)
    if a.gz100_mb is None and q:
        a.gz100_mb = 8
    a.poc_mb = [float(x) for x in (a.poc_mb or ("4" if q else "4,16,64")).split(",") if x]
    a.repeat = a.repeat or (1 if q else 3)
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _run(args)
    finally:
        _kill_live_listeners()


def _run(args: argparse.Namespace) -> int:
    python = args.python
    env = _clean_env(python)
    cache = ObjectCache(Path(args.cache_dir), args.seed, args.tricky, args.compresslevel)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=cache.root))
    try:
        return _run_in(args, python, env, cache, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_in(
    args: argparse.Namespace,
    python: str,
    env: dict[str, str],
    cache: ObjectCache,
    work: Path,
) -> int:
    info = machine_info(python)
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['mem_gb']} GB, {info['python']}")
    info["bytecode_modules"] = compile_bytecode(python, env)
    info["preparation"] = _cmd_output(
        [python, "-c", "from auditship.transforms import fastpath; print(fastpath.describe())"]
    )
    log(f"bytecode written for {info['bytecode_modules']} modules the command imports")
    ncpu = len(os.sched_getaffinity(0))

    main_t = int(args.mb * MB)
    rss_t = int(args.rss_mb * MB)
    gz_t = (
        int(args.gz100_mb * MB)
        if args.gz100_mb
        else cache.calibrate(int(args.gz100_target_mb * MB))
    )
    ladder_t = [int(s * MB) for s in args.poc_mb if int(s * MB) < main_t] if not args.no_poc else []
    objs = cache.ensure([main_t, rss_t, gz_t, *ladder_t], workers=min(2, ncpu))
    main_obj, rss_obj, gz_obj = objs[main_t], objs[rss_t], objs[gz_t]

    rows: list[Row] = []
    bars: list[dict[str, Any]] = []
    quick_note = " (quick sizes: not the product bar)" if args.quick else ""

    # A: zcat | jq
    jq = bench_jq(main_obj, args.repeat, args.timeout)
    rows.append(jq)
    jq_mb_s = jq.mb_s

    # The floor: ISA-L gunzip + gzip -1 of the same object's bytes, in one process.
    floor = bench_floor(python, main_obj, args.repeat, args.timeout, env)
    floor.ratio_vs_jq = (floor.mb_s / jq_mb_s) if (floor.mb_s and jq_mb_s) else None
    rows.append(floor)

    # Ours, throughput: as a function runs it (WORKERS=1), then as the operator command runs
    # it by default (WORKERS=2: two preparation threads on the C fast path, or two worker
    # processes on the pure-Python path, whose RSS column is then the main process only).
    ours_fn = bench_ship(
        python,
        main_obj,
        label="Ours → Logz.io (1 process, WORKERS=1, as the function)",
        to="logzio",
        timeout=args.timeout,
        env=env,
        work=work,
        repeat=args.repeat,
        extra=["--workers", "1"],
    )
    ours_fn.ratio_vs_jq = (ours_fn.mb_s / jq_mb_s) if (ours_fn.mb_s and jq_mb_s) else None
    rows.append(ours_fn)
    ours = bench_ship(
        python,
        main_obj,
        label="Ours → Logz.io (WORKERS=2, operator command)",
        to="logzio",
        timeout=args.timeout,
        env=env,
        work=work,
        repeat=args.repeat,
        extra=["--workers", "2"],
    )
    ours_ratio = (ours.mb_s / jq_mb_s) if (ours.mb_s and jq_mb_s) else None
    ours.ratio_vs_jq = ours_ratio
    ok = ours_ratio is not None and ours_ratio >= BAR_RATIO
    ours.bar = f"≥ {BAR_RATIO:g}x jq: {'PASS' if ok else 'FAIL'}"
    bars.append(
        {
            "bar": f"throughput ≥ {BAR_RATIO:g}x zcat|jq on {main_obj.raw_mb:,.0f} MB" + quick_note,
            "value": ours_ratio,
            "pass": ok,
        }
    )
    rows.append(ours)
    # The reference path, for comparison: what runs where the C extension is not built.
    pure = bench_ship(
        python,
        main_obj,
        label="Ours → Logz.io, pure Python (FAST_PATH=off, WORKERS=2 processes)",
        to="logzio",
        timeout=args.timeout,
        env={**env, "FAST_PATH": "off"},
        work=work,
        extra=["--workers", "2"],
    )
    pure.ratio_vs_jq = (pure.mb_s / jq_mb_s) if (pure.mb_s and jq_mb_s) else None
    rows.append(pure)

    # Ours, peak RSS
    big = bench_ship(
        python,
        rss_obj,
        label="Ours → Logz.io, peak RSS (1 process, as the function)",
        to="logzio",
        timeout=args.timeout,
        env=env,
        work=work,
        extra=["--workers", "1"],
    )
    big.ratio_vs_jq = (big.mb_s / jq_mb_s) if (big.mb_s and jq_mb_s) else None
    ok = big.status == "ok" and big.rss_mb is not None and big.rss_mb <= BAR_RSS_MB
    big.bar = f"RSS ≤ {BAR_RSS_MB:g} MB: {'PASS' if ok else 'FAIL'}"
    bars.append(
        {
            "bar": f"peak RSS ≤ {BAR_RSS_MB:g} MB on {rss_obj.raw_mb:,.0f} MB" + quick_note,
            "value": big.rss_mb,
            "pass": ok,
        }
    )
    rows.append(big)

    # Ours, one core
    one = {0}
    other = {1} if ncpu > 1 else None
    single = bench_ship(
        python,
        gz_obj,
        label="Ours → Logz.io, 1 core (taskset -c 0)",
        to="logzio",
        timeout=args.timeout,
        env=env,
        work=work,
        cpus=one,
        listener_cpus=other,
        extra=["--workers", "1"],
    )
    single.ratio_vs_jq = (single.mb_s / jq_mb_s) if (single.mb_s and jq_mb_s) else None
    ok = single.status == "ok" and single.wall_s is not None and single.wall_s <= args.one_core_bar
    single.bar = f"≤ {args.one_core_bar:g} s of {FUNCTION_LIMIT_S:g}: {'PASS' if ok else 'FAIL'}"
    bars.append(
        {
            "bar": f"{gz_obj.gz_mb:.1f} MB gzip object on one core well under "
            f"{FUNCTION_LIMIT_S:g} s (≤ {args.one_core_bar:g} s)" + quick_note,
            "value": single.wall_s,
            "pass": ok,
        }
    )
    rows.append(single)

    # Ours as a share of the floor (same object: floor s / our s; else by MB/s).
    for r in rows:
        if r.path.startswith("Ours → Logz.io"):
            r.share_of_floor = share_of_floor(r, floor)
    share = ours.share_of_floor
    ok = share is not None and share >= BAR_FLOOR_SHARE
    ours.bar += f"; ≥ {BAR_FLOOR_SHARE:.0%} of floor: {'PASS' if ok else 'FAIL'}"
    fn_share = "—" if ours_fn.share_of_floor is None else f"{ours_fn.share_of_floor:.0%}"
    bars.append(
        {
            "bar": f"share of the floor (ISA-L gunzip + gzip -{FLOOR_LEVEL}, "
            f"{_fmt(floor.wall_s, '.2f')} s) ≥ {BAR_FLOOR_SHARE:.0%} with WORKERS=2 on "
            f"{main_obj.raw_mb:,.0f} MB: {_fmt(floor.wall_s, '.2f')} s / "
            f"{_fmt(ours.wall_s, '.2f')} s (WORKERS=1: {fn_share})" + quick_note,
            "value": share,
            "unit": "%",
            "pass": ok,
        }
    )

    # Ours, PutLogs
    if not args.no_oci_logging:
        why_not = _oci_logging_available(python)
        if why_not:
            rows.append(Row("Ours → OCI Logging PutLogs", main_obj, "skipped", note=why_not))
        else:
            cfg_dir = Path(tempfile.mkdtemp(prefix="oci-", dir=work))
            config = _oci_config(cfg_dir)
            labels = (("1", "1 process, as the function"), ("2", "WORKERS=2 processes"))
            for workers, label in labels:
                put = bench_ship(
                    python,
                    main_obj,
                    label=f"Ours → OCI Logging PutLogs ({label})",
                    to="oci-logging",
                    timeout=args.timeout,
                    env=env,
                    work=work,
                    extra=["--config-file", str(config), "--workers", workers],
                )
                put.ratio_vs_jq = (put.mb_s / jq_mb_s) if (put.mb_s and jq_mb_s) else None
                rows.append(put)
            shutil.rmtree(cfg_dir, ignore_errors=True)

    # B: the PoC
    if not args.no_poc:
        rows.extend(_bench_poc_all(python, args, objs, ladder_t, main_obj, env, jq_mb_s))

    info["loadavg_at_end"] = _loadavg()
    info["cpu_busy_at_end"] = _cpu_busy()
    _report(info, rows, bars, args)
    failed = [r for r in rows if r.path.startswith("Ours") and r.status not in ("ok", "skipped")]
    return 1 if failed or jq.status != "ok" else 0


def _bench_poc_all(
    python: str,
    args: argparse.Namespace,
    objs: dict[int, BenchObject],
    ladder_t: list[int],
    main_obj: BenchObject,
    env: dict[str, str],
    jq_mb_s: float | None,
) -> list[Row]:
    rows: list[Row] = []
    fixed: list[Row] = []
    for t in sorted(ladder_t):
        row = bench_poc(python, objs[t], True, args.timeout, env)
        fixed.append(row)
        if row.status != "ok":
            break
    done = [r for r in fixed if r.status == "ok"]
    plausible, why = False, "no ladder size finished"
    if not ladder_t:
        plausible, why = True, ""
    elif done:
        ref = max(done, key=lambda r: r.obj.raw_bytes)
        scale = main_obj.raw_bytes / ref.obj.raw_bytes
        est_wall = (ref.wall_s or 0) * scale * 1.25
        est_rss = (ref.rss_mb or 0) * scale
        avail = _mem_available_mb()
        plausible = est_wall < args.timeout * 0.9 and est_rss < 0.6 * avail
        why = (
            f"extrapolated from {ref.obj.raw_mb:,.0f} MB: ~{est_wall:.0f} s, "
            f"~{est_rss:,.0f} MB RSS (timeout {args.timeout:g} s, {avail:,.0f} MB available)"
        )
    if plausible:
        fixed.append(bench_poc(python, main_obj, True, args.timeout, env))
        if why:
            fixed[-1].detail["plausibility"] = why
    else:
        fixed.append(Row("B: PoC 002 + strip() fix", main_obj, "skipped", note="not run: " + why))
    # As written: run once, on the largest object it could plausibly get through.
    target = (
        main_obj
        if plausible
        else (max(done, key=lambda r: r.obj.raw_bytes).obj if done else objs[min(ladder_t)])
    )
    rows.append(bench_poc(python, target, False, args.timeout, env))
    rows.extend(fixed)
    for r in rows:
        if r.mb_s and jq_mb_s:
            r.ratio_vs_jq = r.mb_s / jq_mb_s
    return rows


def _mem_available_mb() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / MB
    return 4096.0


OTHER_WORK_WARN = 0.15  # cores of other work during a row worth a warning


def _busy_warning(info: dict[str, Any], rows: Sequence[Row] = ()) -> list[str]:
    out = []
    busy = [b for b in (info.get("cpu_busy_at_start"), info.get("cpu_busy_at_end")) if b]
    if busy and max(busy) >= OTHER_WORK_WARN:
        out += [
            f"**Warning: the machine was not idle** (CPUs {max(busy):.0%} busy with other work "
            "in a 1 s sample before or after the runs): timings are pessimistic; rerun when "
            "quiet.",
            "",
        ]
    noisy = [r for r in rows if r.other_cores and max(r.other_cores) >= OTHER_WORK_WARN]
    if noisy:
        names = "; ".join(f"{r.path} ({max(r.other_cores):.2f})" for r in noisy)
        out += [
            "**Warning: other processes used CPU during these rows** (cores busy with other "
            f"work, at most, over a run): {names}. Their timings are pessimistic.",
            "",
        ]
    return out


def _report(
    info: dict[str, Any], rows: list[Row], bars: list[dict[str, Any]], args: argparse.Namespace
) -> None:
    dirty = " (uncommitted changes in functions/ or scripts/)" if info["worktree_dirty"] else ""
    out = [
        "## auditship benchmark" + (" (--quick)" if args.quick else ""),
        "",
        f"Machine: nproc {info['nproc']} ({info['cpu']}), {info['mem_gb']} GB RAM, kernel "
        f"{info['kernel']}; Python {info['python']}; {info['jq']}; {info['gzip']}; "
        f"git {info['git_head']}{dirty}; record preparation: {info.get('preparation')}; "
        f"load average {info['loadavg_at_start']} at start, {info['loadavg_at_end']} at end; "
        f"CPUs busy with other work {info['cpu_busy_at_start']} before, "
        f"{info['cpu_busy_at_end']} after.",
        "",
        *_busy_warning(info, rows),
        "MB = 10^6 bytes of *decompressed* input; MB/s and records/s are over the measured "
        "process's whole wall time (interpreter start included; the bytecode of the "
        f"{info.get('bytecode_modules', 0)} modules it imports is written first, as an "
        "install does); peak RSS is that process's "
        "own ru_maxrss (for A, the largest of zcat/jq/bash; for rows with worker processes "
        "(pure Python, WORKERS=2) the main process only; the C fast path uses threads); "
        "x jq = MB/s over A's MB/s on the throughput object. Ours: the listener runs in its "
        "own process (pinned to another core for the 1-core row) and counts every record; "
        "'ship_object' is the in-process time from the command's summary line. "
        "Floor: one process of the same interpreter that gunzips the throughput object with "
        f"ISA-L and gzips the decompressed bytes with ISA-L level {FLOOR_LEVEL} in "
        f"{FLOOR_BATCH_BYTES:,}-byte batches (as the Logz.io sink does), output discarded, no "
        "parsing, one thread; share of floor = floor wall s / our wall s on the same object "
        "(our MB/s / the floor's MB/s for rows on another object); 100 % = as fast as gunzip "
        "+ gzip alone. Other work: CPU seconds the machine spent (/proc/stat) during each run "
        "beyond the measured process and the listener, per second of wall time; rows where "
        f"it reached {OTHER_WORK_WARN:g} cores are named in a warning above (every run's "
        "value is in --json as other_cores).",
        "",
        render_table(rows),
        "",
        "### Bars",
        "",
    ]
    for b in bars:
        value = b["value"]
        if value is None:
            shown = "—"
        elif b.get("unit") == "%":
            shown = f"{value:.1%}"  # 49.9 % fails a 50 % bar: do not round it to 50 %
        else:
            shown = f"{value:,.2f}"
        out.append(f"- {'PASS' if b['pass'] else 'FAIL'}: {b['bar']} (measured {shown})")
    text = "\n".join(out) + "\n"
    print(text)
    if args.json:
        doc = {
            "machine": info,
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "bars": bars,
            "runs": [r.to_json() for r in rows],
            "markdown": text,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
        log(f"results written to {args.json}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_poc":
        sys.exit(poc_main(sys.argv[2:]))
    sys.exit(main())
