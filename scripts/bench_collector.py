#!/usr/bin/env python3
"""Benchmark the Audit API collector (`oci-audit-ship audit:`) against the issue's bar:

    "against a loopback Audit API with injected latency, wall time versus the sum of
    request latencies (sequential), for at least 3 regions x 40 compartments x 2 days:
    >= 8x faster than sequential, memory flat as the window grows."

    python scripts/bench_collector.py [--quick] [--skip-sequential] [--json results.json]

The stand-ins are the test suite's own loopback fakes: this script puts `tests/` on
`sys.path` and imports `fakes.identity.FakeIdentity`, `fakes.audit_api.FakeAuditApi` and
`fakes.oci_auth.sdk_config` from `tests/fakes` (nothing of ours is mocked: the collector
talks to them through the real `oci` SDK). They run in this process:

- Identity: the tenancy, 3 READY regions (and one IN_PROGRESS, never asked) and a tree of
  39 compartments under the root, up to 3 levels deep (plus one not accessible and one
  deleted, never asked). The root is asked like any compartment: 3 x 40 keys by default
  (`--regions`, `--compartments`, the root included).
- Audit API: ListEvents with `--latency` seconds slept in every request (default 0.2),
  `--page-size` events per page (default 100) and `--per-hour` events per hour in every
  region and compartment (default 4), generated lazily by `FakeAuditApi.populate`.

The Logz.io stand-in is `scripts/bench_listener.py`'s server in its own process (started
as `bench_collector.py _listener`), which after the run also sums a 128-bit hash of every
delivered record's `id` (an order-independent digest of the delivered multiset).

The collector runs in a process of its own: `python scripts/ship.py audit: --to logzio
--since S --until U --concurrency N ...` (the operator command as shipped, `WORKERS`
default, a fresh `--state-dir` each run), so its peak RSS is its own `ru_maxrss` from
`os.wait4` (`bench.run_measured`) and the fakes' CPU is not counted against it. Wall time
is from `Popen` to `wait4`: interpreter start, imports and discovery included. The
machine has 2 cores here: the collector, the fakes and the listener share them.

Runs (each against fresh fakes, `--window` 1d, since/until on UTC midnights, so a key
has `days` windows plus the 10-minute tail window the collector cuts at the end):

1. sequential: `--concurrency 1` over `--days` (default 2): the measured sequential
   client (`--skip-sequential` skips it; about 1.5 min with the defaults);
2. bar: `--concurrency` (default: the product's default, `Settings.collect_concurrency`)
   over `--days`;
3. `--also-concurrency` (default 8 and 16; the bar's is not run twice): the same at
   other concurrencies;
4. memory: `--concurrency` over `--memory-days` (default 8 and 32 days: 4x and 16x the
   records at the same per-hour rate); peak RSS should not grow with the window.

Per run: ListEvents requests answered (status 200) and the sum of their latencies
(requests x `--latency`: what a sequential client spends just waiting, the issue's
"sequential"); speedup = that sum / wall, and measured-sequential wall / wall (same days);
the most requests the fake saw in flight. Where the time goes: the API span (first
request in to last answer out, at the fake), the average number of requests in flight
over it (sum of latencies / span), per window and worker the time taken and how much of
it was not the injected latency, how long the fake itself took per request beyond the
latency (building the page), requests/s, CPU seconds of the collector, of this process
(the fakes) and of the listener (while the collector ran), and the CPU other processes
used meanwhile (`bench.other_work`: /proc/stat minus ours, per wall second; a
warning names rows where it reached 0.15 cores: the machine is shared).

Checks (a failed one fails the run, loudly): the command exits 0 and its summary says
complete, shipped = generated, no duplicates, nothing outside the range, no 429; every
region and compartment was asked; the fake served every generated event exactly once
(events in its answers); the listener counted exactly `generated` records, no errors, and
the digest of the delivered ids equals the digest of the generated ids.

Bars (exit 1 when one fails): speedup vs the sum of latencies >= 8x on the bar run;
delivered == generated in every run; the peak RSS of the longest memory run at most
`--rss-growth-mb` (default 15) above the bar run's.

Prints Markdown: the runs, where the time goes, a year extrapolated from the measured
requests/s (`--extrapolate`, REGIONSxCOMPARTMENTS), the bars; `--json FILE` writes every
figure. `--small-ints`: events without the fake's integer above 2**64 (see `_fakes`).
`--quick`: latency 0.05 s, memory runs of 4 and 8 days (a smoke run, not the bar; about
2 min). The defaults take about 4 min on 2 cores. Loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bench

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
TESTS = REPO / "tests"
TOKEN = "benchtoken"  # noqa: S105 - a loopback listener's dummy token
TENANCY = "ocid1.tenancy.oc1..aaaaaaaatesttenancy"  # fakes.oci_auth.TEST_TENANCY
BAR_SPEEDUP = 8.0
DIGEST_MOD = 2**128
REGION_NAMES = (
    ("us-ashburn-1", "IAD"),
    ("eu-frankfurt-1", "FRA"),
    ("ap-tokyo-1", "NRT"),
    ("uk-london-1", "LHR"),
    ("us-phoenix-1", "PHX"),
    ("ca-toronto-1", "YYZ"),
    ("ap-sydney-1", "SYD"),
    ("sa-saopaulo-1", "GRU"),
)


def log(msg: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[bench-collector {stamp}] {msg}", file=sys.stderr, flush=True)


def id_hash(event_id: str) -> int:
    """One id's share of the digest: sums of these mod 2**128 compare multisets."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=16).digest(), "big")


# -- the listener (a subprocess: `bench_collector.py _listener`) -----------------------


def listener_main() -> int:
    """`scripts/bench_listener.py --mode logzio`, whose deferred count also digests ids."""
    import bench_listener
    import orjson

    class DigestStats(bench_listener.Stats):
        def __init__(self) -> None:
            super().__init__()
            self.ids = 0
            self.id_digest = 0
            self.bad_lines = 0

        def count_pending(self, mode: str) -> None:
            with self.lock:
                pending = list(self.pending)
            for wire, gzip in pending:
                body = _gunzip(wire) if gzip else wire  # None: an error in the count below
                for line in (body or b"").split(b"\n"):
                    if not line.strip():
                        continue
                    try:
                        event_id = orjson.loads(line).get("id")
                    except (orjson.JSONDecodeError, AttributeError):
                        event_id = None
                    if not isinstance(event_id, str):
                        self.bad_lines += 1
                        continue
                    self.ids += 1
                    self.id_digest = (self.id_digest + id_hash(event_id)) % DIGEST_MOD
            super().count_pending(mode)

        def to_json(self) -> dict[str, Any]:
            doc: dict[str, Any] = super().to_json()
            doc.update(ids=self.ids, id_digest=f"{self.id_digest:032x}", bad_lines=self.bad_lines)
            return doc

    bench_listener.Handler.stats = DigestStats()
    return int(bench_listener.main(["--mode", "logzio"]))


def _gunzip(wire: bytes) -> bytes | None:
    try:
        return zlib.decompress(wire, 31)
    except zlib.error:
        return None


class DigestListener(bench.Listener):
    """`listener_main` in its own process; `stop()` returns its counters."""

    def __init__(self, python: str) -> None:  # bench.Listener's, with another command
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "_listener"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,
        )
        bench._LIVE.append(self.proc)
        first = self._readline(timeout=30)
        try:
            self.port = int(json.loads(first)["port"])
        except (ValueError, KeyError) as exc:
            self.kill()
            raise RuntimeError(f"listener did not start: {first!r}") from exc
        self.url = f"http://127.0.0.1:{self.port}"


# -- the fakes ---------------------------------------------------------------------------


def _fakes(small_ints: bool = False) -> tuple[Any, Any, Any]:
    """(FakeIdentity, FakeAuditApi, sdk_config) from tests/fakes (tests/ goes on sys.path;
    imported by name so the type checker does not follow the test tree). `small_ints`:
    the events the Audit API fake generates get a 64-bit `bytesTransferred` instead of
    its integer above 2**64 (which orjson cannot write: every record then takes the
    Logz.io sink's pure-Python writer)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    identity = importlib.import_module("fakes.identity")
    audit_api: Any = importlib.import_module("fakes.audit_api")
    oci_auth = importlib.import_module("fakes.oci_auth")
    if small_ints:
        make_event = audit_api.make_event

        def small(**kwargs: Any) -> dict[str, Any]:
            event: dict[str, Any] = make_event(**kwargs)
            details = event["data"]["additionalDetails"]
            details["bytesTransferred"] %= 2**63
            return event

        audit_api.make_event = small  # what its lazily generated events are built with
    return identity.FakeIdentity, audit_api.FakeAuditApi, oci_auth.sdk_config


@dataclass
class Tenancy:
    regions: list[str]
    compartments: list[str]  # the asked ones, the root first
    subscriptions: list[tuple[str, str, str, bool]]


def plan_tenancy(regions: int, compartments: int) -> Tenancy:
    """`regions` READY regions (+ one IN_PROGRESS) and `compartments` asked compartments,
    the root included: the others in a tree (a third top-level, the rest nested below
    them, down to 3 levels)."""
    if not 1 <= regions < len(REGION_NAMES):
        raise SystemExit(f"--regions must be 1 to {len(REGION_NAMES) - 1}")
    subs = [(name, key, "READY", i == 0) for i, (name, key) in enumerate(REGION_NAMES[:regions])]
    name, key = REGION_NAMES[regions]
    subs.append((name, key, "IN_PROGRESS", False))
    asked = [TENANCY] + [f"ocid1.compartment.oc1..bench{i:04d}" for i in range(compartments - 1)]
    return Tenancy([s[0] for s in subs[:regions]], asked, subs)


def build_identity(fake_identity: Any, tenancy: Tenancy) -> Any:
    identity = fake_identity(TENANCY, tenancy.subscriptions)
    children = tenancy.compartments[1:]
    top = max(1, len(children) // 3)
    parents: list[str] = []
    for i, compartment in enumerate(children):
        if i < top:
            identity.add_compartment(compartment, name=f"team-{i:02d}")
        else:  # below a top-level one, or below one of those (a third level)
            parent = children[(i - top) % top] if i < 2 * top else parents[(i - 2 * top) % top]
            identity.add_compartment(compartment, parent, name=f"env-{i:02d}")
        if top <= i < 2 * top:
            parents.append(compartment)
    hidden_parent = children[0] if children else TENANCY
    identity.add_compartment(
        "ocid1.compartment.oc1..benchhidden", hidden_parent, name="hidden", accessible=False
    )
    identity.add_compartment(
        "ocid1.compartment.oc1..benchgone", name="gone", lifecycle_state="DELETED"
    )
    return identity


def depth_of(identity: Any, compartment: str) -> int:
    depth = 0
    while compartment != TENANCY:
        compartment = identity.compartments[compartment].parent_id
        depth += 1
    return depth


class Timed:
    """Wraps a FakeAuditApi subclass: when the first request came in and the last left."""

    @staticmethod
    def make(fake_audit: Any) -> Any:
        class TimedAuditApi(fake_audit):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.first_in: float | None = None
                self.last_out: float | None = None

            def _enter(self) -> None:
                now = time.monotonic()
                if self.first_in is None:
                    self.first_in = now
                super()._enter()

            def _leave(self) -> None:
                super()._leave()
                self.last_out = time.monotonic()

        return TimedAuditApi


# -- runs --------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    days: int
    concurrency: int
    latency: float
    regions: int = 0
    compartments: int = 0
    windows: int = 0
    generated: int = 0
    requests: int = 0  # ListEvents answered 200
    other_requests: int = 0  # anything else the audit fake saw
    served_events: int = 0
    sum_latency_s: float = 0.0
    wall_s: float = 0.0
    api_span_s: float | None = None
    max_in_flight: int = 0
    rss_mb: float = 0.0
    cpu_collector_s: float = 0.0
    cpu_fakes_s: float = 0.0
    cpu_listener_s: float | None = None
    other_cores: float | None = None  # CPU other processes used meanwhile, per wall second
    fake_ms_per_request: float | None = None  # in the fake beyond the injected latency
    listener_records: int = 0
    listener_requests: int = 0
    returncode: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    speedup_vs_measured: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def pages_per_window(self) -> float:
        return self.requests / self.windows if self.windows else 0.0

    @property
    def speedup_vs_sum(self) -> float:
        return self.sum_latency_s / self.wall_s if self.wall_s else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    @property
    def in_flight_avg(self) -> float | None:
        """Requests in flight on average while the API was being asked: the sum of their
        latencies over the API span (at most the concurrency)."""
        return self.sum_latency_s / self.api_span_s if self.api_span_s else None

    @property
    def slot_ms_per_window(self) -> float | None:
        """How long one of the `concurrency` workers spent per window, on average."""
        if not self.api_span_s or not self.windows:
            return None
        return self.api_span_s * min(self.concurrency, self.windows) / self.windows * 1000

    @property
    def other_ms_per_window(self) -> float | None:
        """Of that, the time not spent in the injected latency: request overhead (signing,
        HTTP, waiting for the GIL, the fake building its answer), preparing and shipping
        the window's records, leases and markers."""
        slot = self.slot_ms_per_window
        if slot is None:
            return None
        return slot - self.pages_per_window * self.latency * 1000

    @property
    def cpu_total_s(self) -> float:
        return self.cpu_collector_s + self.cpu_fakes_s + (self.cpu_listener_s or 0.0)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(
            pages_per_window=self.pages_per_window,
            speedup_vs_sum=self.speedup_vs_sum,
            requests_per_s=self.requests_per_s,
            in_flight_avg=self.in_flight_avg,
            slot_ms_per_window=self.slot_ms_per_window,
            other_ms_per_window=self.other_ms_per_window,
            ok=self.ok,
        )
        return doc


@dataclass
class World:
    python: str
    env: dict[str, str]
    work: Path
    config: Path
    identity: Any
    fake_audit: Any
    tenancy: Tenancy
    end: dt.datetime
    args: argparse.Namespace


def generated_ids(
    audit: Any, tenancy: Tenancy, since: dt.datetime, until: dt.datetime
) -> tuple[int, int]:
    """(count, digest) of the events ListEvents holds for every key in [since, until):
    the fake's own iteration (`_iter`, what its answers are cut from), keys only."""
    count = digest = 0
    for region in tenancy.regions:
        for compartment in tenancy.compartments:
            for (_, event_id), _thunk in audit._iter(region, compartment, since, until):
                count += 1
                digest = (digest + id_hash(event_id)) % DIGEST_MOD
    return count, digest


def collect_once(world: World, label: str, days: int, concurrency: int) -> Run:
    args, tenancy = world.args, world.tenancy
    until = world.end
    since = until - dt.timedelta(days=days)
    run = Run(label, days, concurrency, args.latency)
    audit = world.fake_audit(
        tenancy.regions[0],
        regions=tenancy.regions,
        page_size=args.page_size,
        latency=args.latency,
        tenancy_id=TENANCY,
    )
    audit.start()
    try:
        run.generated = audit.populate(
            tenancy.regions, tenancy.compartments, since, until, args.per_hour, seed=days
        )
        count, digest = generated_ids(audit, tenancy, since, until)
        if count != run.generated:
            run.problems.append(f"the fake holds {count} events, populate said {run.generated}")
        state = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=world.work))
        cmd = [
            world.python, str(SCRIPTS / "ship.py"), "audit:",
            "--to", "logzio", "--config-file", str(world.config),
            "--identity-endpoint", world.identity.url,
            "--audit-endpoint", audit.url + "/{region}",
            "--since", since.isoformat(), "--until", until.isoformat(),
            "--window", "1d", "--concurrency", str(concurrency),
            "--state-dir", str(state / "state"), "--dead-letter-dir", str(state / "dead"),
            "--progress", "never",
        ]  # fmt: skip
        with contextlib.ExitStack() as stack:
            listener = DigestListener(world.python)
            stack.callback(listener.kill)
            cmd += ["--logzio-url", listener.url, "--logzio-token", TOKEN]
            log(
                f"{label}: {len(tenancy.regions)} regions x {len(tenancy.compartments)} "
                f"compartments x {days} days, concurrency {concurrency}, "
                f"{run.generated:,} events"
            )
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            measured = bench.run_measured(cmd, timeout=args.timeout, env=world.env)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            run.cpu_listener_s = bench._process_cpu(listener.proc.pid)
            stats = listener.stop()
        run.wall_s = measured.wall_s
        run.rss_mb = measured.rss_mb
        run.cpu_collector_s = measured.cpu_s
        run.cpu_fakes_s = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        run.returncode = measured.returncode
        other = bench.other_work(measured, run.cpu_fakes_s + (run.cpu_listener_s or 0.0))
        run.other_cores = None if other is None else round(other / measured.wall_s, 3)
        if audit.first_in is not None and audit.last_out is not None:
            run.api_span_s = audit.last_out - audit.first_in
        run.max_in_flight = audit.max_in_flight
        listed = [r for r in audit.requests if r.path.endswith("/auditEvents") and r.status == 200]
        run.requests = len(listed)
        run.other_requests = len(audit.requests) - len(listed)
        run.served_events = sum(r.events for r in listed)
        if listed:
            extra = sum(r.elapsed for r in listed) / len(listed) - args.latency
            run.fake_ms_per_request = round(extra * 1000, 2)
        run.sum_latency_s = run.requests * args.latency
        run.regions = len({r.region for r in listed})
        run.compartments = len({r.compartment_id for r in listed})
        if audit.errors:
            run.problems.append(f"the Audit API fake failed: {audit.errors[-1][-300:]}")
    finally:
        audit.stop()
    _check(run, measured, stats, digest, tenancy)
    return run


def _check(run: Run, measured: Any, stats: dict[str, Any], digest: int, tenancy: Tenancy) -> None:
    lines = [x for x in measured.stderr.splitlines() if x.startswith("{")]
    summary: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    run.summary = summary
    run.windows = int((summary.get("windows") or {}).get("planned", 0))
    problems = run.problems
    if measured.timed_out:
        problems.append("timed out")
    elif measured.returncode != 0:
        problems.append(f"exit {measured.returncode}: {measured.stderr[-600:]!r}")
    if not summary.get("complete"):
        problems.append(f"summary not complete: {summary.get('errors')}")
    if summary.get("shipped") != run.generated:
        problems.append(f"shipped {summary.get('shipped')} of {run.generated} generated")
    for counter in ("duplicates", "outside_range", "throttled"):
        if summary.get(counter):
            problems.append(f"{counter}: {summary.get(counter)}")
    if run.served_events != run.generated:
        problems.append(f"the fake served {run.served_events} events of {run.generated}")
    if (run.regions, run.compartments) != (len(tenancy.regions), len(tenancy.compartments)):
        problems.append(f"asked {run.regions} regions x {run.compartments} compartments")
    run.listener_records = int(stats.get("records", -1))
    run.listener_requests = int(stats.get("requests", 0))
    if stats.get("error"):
        problems.append(f"listener: {stats['error']}")
    if run.listener_records != run.generated:
        problems.append(f"the listener counted {run.listener_records} of {run.generated}")
    if stats.get("errors") or stats.get("bad_lines"):
        problems.append(
            f"listener errors {stats.get('errors')}, bad lines {stats.get('bad_lines')}"
        )
    if stats.get("id_digest") != f"{digest:032x}" or stats.get("ids") != run.generated:
        problems.append(
            f"delivered ids differ from the generated ones ({stats.get('ids')} ids, digest "
            f"{stats.get('id_digest')} against {digest:032x})"
        )
    for problem in problems:
        log(f"{run.label}: FAILED: {problem}")
    if not problems:
        log(
            f"{run.label}: {run.wall_s:.2f} s, {run.requests} requests, "
            f"{run.speedup_vs_sum:.2f}x the sum of latencies, peak RSS {run.rss_mb:.0f} MB, "
            f"all {run.generated:,} records delivered (ids match)"
        )


# -- report ------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render_table(runs: list[Run]) -> str:
    head = [
        "run", "days", "concurrency", "asked (regions x compartments)", "windows",
        "ListEvents requests", "pages / window", "records delivered = generated", "wall s",
        "Σ latency s", "speedup vs Σ", "speedup vs measured sequential", "max in flight",
        "peak RSS MB", "result",
    ]  # fmt: skip
    lines = [_row(head), "|" + "---|" * len(head)]
    for r in runs:
        result = "ok" if r.ok else "FAILED: " + "; ".join(r.problems)
        delivered = f"{r.listener_records:,}" + (f" = {r.generated:,}" if r.ok else "")
        measured = _fmt(r.speedup_vs_measured, ".2f") + ("x" if r.speedup_vs_measured else "")
        cells = [
            r.label, str(r.days), str(r.concurrency), f"{r.regions} x {r.compartments}",
            f"{r.windows:,}", f"{r.requests:,}", f"{r.pages_per_window:.2f}", delivered,
            f"{r.wall_s:.2f}", f"{r.sum_latency_s:.1f}", f"{r.speedup_vs_sum:.2f}x", measured,
            str(r.max_in_flight), f"{r.rss_mb:.1f}", result,
        ]  # fmt: skip
        lines.append(_row(cells))
    return "\n".join(lines)


def render_time_table(runs: list[Run], nproc: int) -> str:
    head = [
        "run", "API span s", "requests in flight (avg)", "ms per window and worker",
        "of which not latency", "fake's own ms per request", "requests / s",
        "CPU s: collector / fakes / listener",
        f"cores busy (of {nproc})", "other work (cores)",
    ]  # fmt: skip
    lines = [_row(head), "|" + "---|" * len(head)]
    for r in runs:
        cpu = f"{r.cpu_collector_s:.1f} / {r.cpu_fakes_s:.1f} / {_fmt(r.cpu_listener_s, '.1f')}"
        cells = [
            r.label, _fmt(r.api_span_s, ".2f"), _fmt(r.in_flight_avg, ".2f"),
            _fmt(r.slot_ms_per_window, ".0f"), _fmt(r.other_ms_per_window, ".0f"),
            _fmt(r.fake_ms_per_request, ".1f"), f"{r.requests_per_s:.1f}", cpu,
            f"{r.cpu_total_s / r.wall_s:.2f}" if r.wall_s else "—", _fmt(r.other_cores, ".2f"),
        ]  # fmt: skip
        lines.append(_row(cells))
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def extrapolate(runs: list[Run], args: argparse.Namespace) -> list[str]:
    """A year of a tenancy at the measured requests/s of the longest good run at each
    concurrency: requests = regions x compartments x 365 windows x pages per window."""
    best: dict[int, Run] = {}
    for r in runs:
        if r.ok and r.requests and (r.concurrency not in best or r.days > best[r.concurrency].days):
            best[r.concurrency] = r
    out = []
    for concurrency, run in sorted(best.items()):
        rate = run.requests_per_s
        ideal = concurrency / run.latency
        out.append(
            f"- concurrency {concurrency}: {run.requests:,} requests in {run.wall_s:.1f} s "
            f"({run.label}) = **{rate:.1f} requests/s** ({rate / ideal:.0%} of concurrency / "
            f"latency = {ideal:.0f}/s); a year of"
        )
        for spec in args.extrapolate:
            regions, compartments = (int(x) for x in spec.lower().split("x"))
            times = []
            for pages in (1, 4):
                requests = regions * compartments * 365 * pages
                times.append(f"{_duration(requests / rate)} at {pages} page(s) per window")
            out.append(f"  - {regions} regions x {compartments} compartments: {', '.join(times)}")
    return out


def bars(runs: list[Run], args: argparse.Namespace) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    main = next((r for r in runs if r.label == "bar"), None)
    if main is not None:
        out.append(
            {
                "bar": f"speedup vs the sum of request latencies >= {BAR_SPEEDUP:g}x "
                f"({main.regions} regions x "
                f"{main.compartments} compartments x {main.days} days, concurrency "
                f"{main.concurrency})",
                "value": round(main.speedup_vs_sum, 2),
                "pass": main.ok and main.speedup_vs_sum >= BAR_SPEEDUP,
            }
        )
    out.append(
        {
            "bar": "records delivered == events generated, in every run (count and id digest)",
            "value": sum(r.ok for r in runs),
            "pass": all(r.ok for r in runs),
        }
    )
    memory = [r for r in runs if r.label.startswith("memory")]
    if main is not None and memory:
        longest = max(memory, key=lambda r: r.days)
        growth = longest.rss_mb - main.rss_mb
        out.append(
            {
                "bar": f"peak RSS flat: {longest.days} days ({longest.generated:,} records) at "
                f"most {args.rss_growth_mb:g} MB above {main.days} days "
                f"({main.generated:,} records)",
                "value": round(growth, 1),
                "pass": growth <= args.rss_growth_mb,
            }
        )
    return out


# -- main --------------------------------------------------------------------------------


_COMPILE = """
import py_compile, sys
import auditship.entrypoints.cli, auditship.entrypoints.collecting, auditship.collector
import auditship.sinks.logzio, auditship.sources.audit_api, auditship.sources.tenancy
import oci.audit, oci.identity
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


def product_concurrency() -> int:
    """The collector's default concurrency (`Settings.collect_concurrency`)."""
    if str(REPO / "functions") not in sys.path:
        sys.path.insert(0, str(REPO / "functions"))
    from auditship.config import Settings

    return int(Settings.collect_concurrency)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="latency 0.05 s, memory runs 4 and 8 d")
    p.add_argument("--regions", type=int, default=3, help="READY regions (default 3)")
    p.add_argument("--compartments", type=int, default=40, help="asked, root included (40)")
    p.add_argument("--days", type=int, default=2, help="the bar's window (default 2 days)")
    p.add_argument("--memory-days", help="memory runs, comma-separated (default 8,32)")
    p.add_argument("--latency", type=float, help="seconds per request (default 0.2)")
    p.add_argument("--page-size", type=int, default=100, help="events per page (default 100)")
    p.add_argument("--per-hour", type=int, default=4, help="events/h per compartment (4)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=product_concurrency(),
        help="the bar's (default: the product's, COLLECT_CONCURRENCY's default)",
    )
    p.add_argument(
        "--also-concurrency",
        default="8,16",
        help="more rows on --days at these concurrencies (default 8,16; '' for none)",
    )
    p.add_argument(
        "--small-ints",
        action="store_true",
        help="events without the fake's integer above 2**64 (see _fakes)",
    )
    p.add_argument("--skip-sequential", action="store_true", help="no --concurrency 1 run")
    p.add_argument("--rss-growth-mb", type=float, default=15.0, help="memory bar (15 MB)")
    p.add_argument(
        "--extrapolate",
        default="3x40,10x200",
        help="REGIONSxCOMPARTMENTS tenancies to extrapolate a year to (default 3x40,10x200)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="per run (default 900 s)")
    p.add_argument("--python", default=bench._default_python())
    p.add_argument("--json", help="write every run's figures here")
    args = p.parse_args(argv)
    if args.latency is None:
        args.latency = 0.05 if args.quick else 0.2
    if args.memory_days is None:
        args.memory_days = "4,8" if args.quick else "8,32"
    args.memory_days = [int(d) for d in str(args.memory_days).split(",") if d.strip()]
    more = args.also_concurrency or ""
    args.also_concurrency = [int(c) for c in more.split(",") if c.strip()]
    args.extrapolate = [s.strip() for s in args.extrapolate.split(",") if s.strip()]
    return args


@contextlib.contextmanager
def world_for(args: argparse.Namespace) -> Iterator[World]:
    fake_identity, fake_audit, sdk_config = _fakes(args.small_ints)
    tenancy = plan_tenancy(args.regions, args.compartments)
    args.tenancy = tenancy
    env = bench._clean_env(args.python)
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        work = Path(tmp)
        cfg = sdk_config()
        config = work / "oci-config"
        config.write_text(
            "[DEFAULT]\n"
            f"user={cfg['user']}\nfingerprint={cfg['fingerprint']}\n"
            f"tenancy={cfg['tenancy']}\nregion={cfg['region']}\nkey_file={cfg['key_file']}\n"
        )
        os.chmod(config, 0o600)
        identity = build_identity(fake_identity, tenancy)
        with identity:
            now = dt.datetime.now(dt.UTC)
            end = now.replace(hour=0, minute=0, second=0, microsecond=0)
            yield World(
                args.python, env, work, config, identity, Timed.make(fake_audit), tenancy,
                end, args,
            )  # fmt: skip
            if identity.errors:
                raise RuntimeError(f"the Identity fake failed: {identity.errors[-1]}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = bench.machine_info(args.python)
    changed = bench._cmd_output(["git", "status", "--porcelain", "--", "functions/auditship"])
    info["functions_changes"] = (
        "uncommitted changes under functions/auditship" if changed else "functions/auditship clean"
    )
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['python']}")
    env = bench._clean_env(args.python)
    compiled = subprocess.run(
        [args.python, "-c", _COMPILE], env=env, capture_output=True, text=True, timeout=300
    )
    log(f"bytecode written for {compiled.stdout.strip() or 0} modules the command imports")
    runs: list[Run] = []
    try:
        with world_for(args) as world:
            depths = [depth_of(world.identity, c) for c in world.tenancy.compartments]
            info["tenancy"] = {
                "regions": world.tenancy.regions,
                "compartments": len(world.tenancy.compartments),
                "depths": {str(d): depths.count(d) for d in sorted(set(depths))},
            }
            sequential = None
            if not args.skip_sequential:
                sequential = collect_once(world, "sequential", args.days, 1)
                runs.append(sequential)
            main_run = collect_once(world, "bar", args.days, args.concurrency)
            runs.append(main_run)
            for c in args.also_concurrency:
                if c in (1, args.concurrency):
                    continue
                runs.append(collect_once(world, f"concurrency {c}", args.days, c))
            for days in args.memory_days:
                runs.append(collect_once(world, f"memory {days}d", days, args.concurrency))
            if sequential is not None:
                for r in runs:
                    if r.days == sequential.days and r is not sequential and r.wall_s:
                        r.speedup_vs_measured = sequential.wall_s / r.wall_s
    finally:
        bench._kill_live_listeners()
    return report(runs, args, info)


def report(runs: list[Run], args: argparse.Namespace, info: dict[str, Any]) -> int:
    checked = bars(runs, args)
    t = args.tenancy
    depths = ", ".join(f"{n} at depth {d}" for d, n in info["tenancy"]["depths"].items())
    out = [
        f"## Audit API collector ({'quick, not the bar' if args.quick else 'bench'})",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['python']}; commit "
        f"{info['git_head']} ({info['functions_changes']}).",
        f"Tenancy: {len(t.regions)} regions ({', '.join(t.regions)}) x {len(t.compartments)} "
        f"compartments asked (the root and {len(t.compartments) - 1} below it: {depths}); "
        f"ListEvents latency "
        f"{args.latency:g} s, {args.page_size} events per page, {args.per_hour} events per "
        "hour per region and compartment, windows of 1 day"
        + (
            "; --small-ints (no integer above 2**64 in the events)."
            if args.small_ints
            else "; every event carries one integer above 2**64 (the fake's), so every "
            "record takes the Logz.io sink's pure-Python writer."
        ),
        "",
        render_table(runs),
        "",
    ]
    noisy = [r for r in runs if r.other_cores and r.other_cores >= bench.OTHER_WORK_WARN]
    if noisy:
        names = "; ".join(f"{r.label} ({r.other_cores:.2f})" for r in noisy)
        out += [
            f"**Warning**: other processes kept CPUs busy while these rows ran (cores, from "
            f"/proc/stat, minus the collector's, the fakes' and the listener's CPU): {names}; "
            "those rows are pessimistic.",
            "",
        ]
    out += [
        "Where the time goes (API span: the first request in to the last answer out, at the "
        "fake; ms per window and worker = span x concurrency / windows):",
        "",
        render_time_table(runs, int(info["nproc"] or 1)),
        "",
        f"Extrapolation (ListEvents latency {args.latency * 1000:.0f} ms as injected here; "
        f"windows of 1 day, {args.page_size} events per page, so 1 page per window up to "
        f"{args.page_size} events per compartment and day, 4 pages up to "
        f"{4 * args.page_size}):",
        "",
        *extrapolate(runs, args),
        "",
    ]
    out += ["### Bars", ""]
    for b in checked:
        out.append(f"- {'PASS' if b['pass'] else 'FAIL'}: {b['bar']} (measured {b['value']})")
    text = "\n".join(out) + "\n"
    print(text)
    if args.json:
        doc = {
            "machine": info,
            "args": {k: v for k, v in vars(args).items() if k not in ("json", "tenancy")},
            "bars": checked,
            "runs": [r.to_json() for r in runs],
            "markdown": text,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
        log(f"results written to {args.json}")
    return 0 if all(b["pass"] for b in checked) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_listener":
        sys.exit(listener_main())
    sys.exit(main())
