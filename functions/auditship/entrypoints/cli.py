"""The operator command (`oci-audit-ship`, or `scripts/ship.py` from a checkout): the
functions' code, run from a laptop.

    oci-audit-ship SOURCE... [--to stdout|logzio|oci-logging]
    oci-audit-ship audit:[OCID] | datasafe:[OCID] [--since T] [--until T] [--to ...]
    oci-audit-ship --sweep oci://<ns>/<bucket>/<prefix> [--older-than 15m] [--to ...]

SOURCE is a local file (gzip or plain) or oci://<namespace>/<bucket>/<object>; a trailing
`/` means every object under that prefix. `audit:` and `datasafe:` are API sources: the
OCI Audit API or Oracle Data Safe of the tenancy (or of a compartment's subtree),
collected by `collector.Collector` with checkpoints in --state-dir (see
entrypoints/collecting.py). With --dead-letters the sources are dead-letter parts, and the
records they hold are shipped again. Records go to stdout (default), Logz.io or an OCI
Logging custom log. One JSON summary line goes to stderr. Exit codes: 0 everything
delivered; 1 some records were dead-lettered; 2 something was not delivered (call again to
resume); 3 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NoReturn

import orjson

from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.delivery.deadletter import LocalDeadLetterStore, ObjectStorageDeadLetterStore
from auditship.entrypoints.collecting import (
    ApiAddress,
    open_collector,
    parse_api_address,
    parse_since_until,
    source_settings,
)
from auditship.entrypoints.sweeping import sweep
from auditship.entrypoints.wiring import build_sink, normalizer_for, ship_options_for
from auditship.errors import AuditShipError, ConfigError
from auditship.logs import configure_logging
from auditship.metrics import RunMetrics, for_operator
from auditship.model import ObjectRef, Summary
from auditship.shipping import Runtime, ship_all
from auditship.sinks.base import Sink
from auditship.sources.address import parse_source
from auditship.sources.local import LocalReader
from auditship.sources.object_storage import ObjectStorageReader
from auditship.sources.replay import DeadLetterReplayReader
from auditship.state.cursor_store import StateLocation
from auditship.state.ledger import LocalLedger, ObjectStorageLedger
from auditship.sweep import parse_sweep_target

log = logging.getLogger("auditship")

EXIT_OK, EXIT_REJECTED, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2, 3
_PROGRESS_MIN_BYTES = 16 * 1024 * 1024


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; 2 means "not delivered, run again" here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="oci-audit-ship",
        description="Ship OCI audit objects (Service Connector output), or collect the OCI "
        "Audit API or Oracle Data Safe, to stdout, Logz.io or an OCI Logging custom log.",
    )
    p.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="a file (- for standard input), oci://ns/bucket/object (a trailing / for "
        "every object under that prefix), or an API source: audit:[OCID], datasafe:[OCID]",
    )
    p.add_argument("--to", choices=("stdout", "logzio", "oci-logging"), default="stdout")
    p.add_argument(
        "--sweep",
        metavar="oci://NS/BUCKET/PREFIX",
        help="instead of SOURCEs: ship every object under the prefix that has no done marker "
        "for its current ETag and is older than --older-than (what lost events missed)",
    )
    p.add_argument("--older-than", help="the sweep's grace period (env SWEEP_OLDER_THAN; 15m)")
    p.add_argument("--logzio-url", help="listener URL (env LOGZIO_URL; default US, port 8071)")
    p.add_argument("--logzio-token", help="shipping token (env LOGZIO_TOKEN)")
    p.add_argument("--logzio-type", help="Logz.io log type (env LOGZIO_TYPE; default oci-audit)")
    p.add_argument("--log-id", help="OCI Logging custom log OCID (env OCI_LOG_ID)")
    p.add_argument("--config-file", help="OCI config file (default ~/.oci/config)")
    p.add_argument("--profile", default=os.environ.get("OCI_CLI_PROFILE", "DEFAULT"))
    p.add_argument(
        "--dead-letter-dir",
        default="dead-letter",
        help="where rejected records of local sources go (default ./dead-letter); oci:// "
        "sources dead-letter into their bucket under DEAD_LETTER_PREFIX",
    )
    p.add_argument(
        "--state-dir",
        default=default_state_dir(),
        help="where progress of local files and the checkpoints of API sources are kept, so a "
        "stopped run resumes (default $XDG_STATE_HOME/oci-audit-ship; oci://ns/bucket/prefix/ "
        "for API sources keeps them in a bucket, as the collector functions do)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="ship objects already marked shipped, from the start, taking over a lease "
        "another run holds",
    )
    p.add_argument(
        "--dead-letters",
        action="store_true",
        help="the sources are dead-letter parts (*.ndjson): ship the records they hold again",
    )
    p.add_argument("--filter-actions", help="keep only these data.request.action values, e.g. "
                   "POST,PUT,DELETE (env FILTER_ACTIONS; default: keep all)")  # fmt: skip
    p.add_argument("--no-redact", action="store_true", help="do not redact credential fields")
    p.add_argument("--objectstorage-endpoint", help="env OCI_OBJECTSTORAGE_ENDPOINT")
    p.add_argument("--logging-endpoint", help="env OCI_LOGGING_INGESTION_ENDPOINT")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto")
    api = p.add_argument_group(
        "API sources",
        "audit: collects the OCI Audit API of the whole tenancy (every compartment, every "
        "READY subscribed region); audit:<compartment-ocid> collects that subtree. "
        "datasafe:[<compartment-ocid>] collects Oracle Data Safe audit events (Database "
        "Vault included) the same way. Without --since, a run resumes from the checkpoint "
        "in --state-dir.",
    )
    api.add_argument("--since", help="RFC 3339 time, or a duration back from now (36h, 30d)")
    api.add_argument("--until", help="RFC 3339 time or duration (default: now minus --lag)")
    api.add_argument("--regions", help="only these regions, e.g. us-ashburn-1,eu-frankfurt-1")
    api.add_argument("--concurrency", type=int, help="windows collected at once (default 16)")
    api.add_argument("--retries", type=int, help="attempts per API request (default 8)")
    api.add_argument("--window", help="the grid windows are cut on (default 1d)")
    api.add_argument("--overlap", help="re-asked at the next run, deduplicated (default 10m)")
    api.add_argument("--lag", help="how far behind now the default --until is (default 10m)")
    api.add_argument("--identity-endpoint", help="env OCI_IDENTITY_ENDPOINT")
    api.add_argument("--audit-endpoint", help="may contain {region}; env OCI_AUDIT_ENDPOINT")
    api.add_argument("--datasafe-endpoint", help="may contain {region}; env OCI_DATASAFE_ENDPOINT")
    mon = p.add_argument_group(
        "metrics",
        "With a compartment, the run posts its metrics to OCI Monitoring when it ends (also "
        "when it fails; see README, Metrics), dimension function=cli. A metrics failure is "
        "logged and does not change the exit code.",
    )
    mon.add_argument(
        "--metrics-compartment",
        metavar="OCID",
        help="post metrics into this compartment (env METRICS_COMPARTMENT_OCID)",
    )
    mon.add_argument(
        "--metrics-namespace",
        metavar="NAME",
        help="env METRICS_NAMESPACE; default auditship (the oci_ prefix is reserved)",
    )
    mon.add_argument(
        "--monitoring-endpoint",
        metavar="URL",
        help="env OCI_MONITORING_ENDPOINT; default telemetry-ingestion of the config's region",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="threads (C fast path) or processes (pure Python) that parse and prepare "
        "records (env WORKERS; default: 2 on a multi-core machine, else 1)",
    )
    return p


def _settings(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    overrides = {
        "LOGZIO_URL": args.logzio_url,
        "LOGZIO_TOKEN": args.logzio_token,
        "LOGZIO_TYPE": args.logzio_type,
        "OCI_LOG_ID": args.log_id,
        "FILTER_ACTIONS": args.filter_actions,
        "REDACT_PATHS": "none" if args.no_redact else None,
        "OCI_OBJECTSTORAGE_ENDPOINT": args.objectstorage_endpoint,
        "OCI_LOGGING_INGESTION_ENDPOINT": args.logging_endpoint,
        "WORKERS": None if args.workers is None else str(args.workers),
        "COLLECT_REGIONS": args.regions,
        "COLLECT_CONCURRENCY": None if args.concurrency is None else str(args.concurrency),
        "COLLECT_WINDOW": args.window,
        "COLLECT_RETRIES": None if args.retries is None else str(args.retries),
        "COLLECT_OVERLAP": args.overlap,
        "COLLECT_LAG": args.lag,
        "OCI_IDENTITY_ENDPOINT": args.identity_endpoint,
        "OCI_AUDIT_ENDPOINT": args.audit_endpoint,
        "OCI_DATASAFE_ENDPOINT": args.datasafe_endpoint,
        "METRICS_COMPARTMENT_OCID": args.metrics_compartment,
        "METRICS_NAMESPACE": args.metrics_namespace,
        "OCI_MONITORING_ENDPOINT": args.monitoring_endpoint,
    }
    merged = dict(env)
    merged.setdefault("WORKERS", "2" if (os.cpu_count() or 1) > 1 else "1")
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.from_mapping(merged)


def _progress(args: argparse.Namespace, total_bytes: int | None) -> Callable[[int], None] | None:
    wanted = args.progress == "always" or (
        args.progress == "auto"
        and sys.stderr.isatty()
        and (total_bytes is None or total_bytes >= _PROGRESS_MIN_BYTES)
    )
    if not wanted:
        return None
    from tqdm import tqdm

    bar = tqdm(total=None, unit="B", unit_scale=True, desc="decompressed", file=sys.stderr)
    last = [0]

    def update(done: int) -> None:
        if done < last[0]:  # next object
            last[0] = 0
        bar.update(done - last[0])
        last[0] = done

    return update


def _reader(reader: Any, args: argparse.Namespace) -> Any:
    return DeadLetterReplayReader(reader) if args.dead_letters else reader


@dataclass
class _Job:
    """What one command line asks for, checked and wired before anything is shipped."""

    args: argparse.Namespace
    settings: Settings
    local: list[ObjectRef]
    remote: list[tuple[ObjectRef, bool]]  # (ref, is_prefix)
    clients: Any  # OciClients, when anything needs OCI credentials
    sink: Sink
    metrics: RunMetrics
    readers: list[Any] = field(default_factory=list)
    deadline: Deadline = field(default_factory=Deadline.unlimited)  # cancelled by a signal

    def runtime(self, reader: Any, dead_letters: Any, ledger: Any, **more: Any) -> Runtime:
        self.readers.append(_reader(reader, self.args))
        return Runtime(
            reader=self.readers[-1],
            sink=self.sink,
            normalizer=normalizer_for(self.settings),
            dead_letters=dead_letters,
            ledger=ledger,
            options=replace(
                ship_options_for(self.settings, force=self.args.force), tally=self.metrics.tally
            ),
            replaying_dead_letters=self.args.dead_letters,
            **more,
        )


def _job(args: argparse.Namespace, env: dict[str, str]) -> _Job:
    settings = _settings(args, env)
    parsed = [parse_source(s) for s in args.sources]
    remote = [(ref, is_prefix) for ref, is_prefix in parsed if not ref.is_local]
    local = [ref for ref, _ in parsed if ref.is_local]
    clients = None
    if remote or args.sweep or args.to == "oci-logging" or settings.logzio_token_secret_ocid:
        clients = _oci_clients(args, settings)
    sink = build_sink(args.to, settings, clients)
    return _Job(args, settings, local, remote, clients, sink, _metrics(args, settings, clients))


def _oci_clients(args: argparse.Namespace, settings: Settings) -> Any:
    """OCI clients from the operator's config file and profile."""
    from auditship.oci_clients import OciClients

    return OciClients(
        settings, auth="config_file", config_file=args.config_file, profile=args.profile
    )


def _metrics(
    args: argparse.Namespace, settings: Settings, clients: Any, source: str = ""
) -> RunMetrics:
    """The run's metrics (off without a metrics compartment), posted with the run's OCI
    clients, or, for a run that needs none (local files to stdout), with ones made from
    the same config file when the post is made (a broken file is then logged)."""

    def made() -> Any:
        return clients if clients is not None else _oci_clients(args, settings)

    return for_operator(settings, made, sink=args.to, source=source)


def _ship_local(job: _Job) -> Summary:
    sizes = [os.path.getsize(r.name) for r in job.local if os.path.isfile(r.name)]
    runtime = job.runtime(
        LocalReader(),
        LocalDeadLetterStore(job.args.dead_letter_dir),
        LocalLedger(job.args.state_dir),
    )
    return ship_all(job.local, [], runtime, job.deadline, _progress(job.args, sum(sizes)))


def _remote_runtime(job: _Job) -> Runtime:
    settings, storage = job.settings, job.clients.object_storage
    reader = ObjectStorageReader(storage)
    # A replay lists the dead-letter prefix itself: only ledger objects are ours then.
    own = (settings.ledger_prefix,) if job.args.dead_letters else (
        settings.dead_letter_prefix, settings.ledger_prefix,
    )  # fmt: skip
    return job.runtime(
        reader,
        ObjectStorageDeadLetterStore(storage, settings.dead_letter_prefix),
        ObjectStorageLedger(storage, settings.ledger_prefix),
        lister=reader.list,
        own_prefixes=own,
    )


def _ship_remote(job: _Job) -> Summary:
    runtime = _remote_runtime(job)
    objects = [r for r, is_prefix in job.remote if not is_prefix]
    prefixes = [(r.namespace, r.bucket, r.name) for r, is_prefix in job.remote if is_prefix]
    return ship_all(objects, prefixes, runtime, job.deadline, _progress(job.args, None))


def run(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    environ = dict(os.environ if env is None else env)
    if args.sweep is not None:
        if args.sources or args.dead_letters or args.force or args.since or args.until:
            parser.error("--sweep takes no SOURCE, --dead-letters, --force, --since or --until")
        return _sweep(args, environ)
    if not args.sources or args.older_than:
        parser.error("give a SOURCE, or --sweep (--older-than is for a sweep)")
    try:
        addresses = [parse_api_address(s) for s in args.sources]
    except AuditShipError as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if any(addresses):
        if len(addresses) > 1:
            print("oci-audit-ship: an API source (audit:, datasafe:) is the only source of a run",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        assert addresses[0] is not None
        return _collect(args, environ, addresses[0])
    if args.since or args.until:
        print("oci-audit-ship: --since and --until are for API sources (audit:, datasafe:)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        job = _job(args, environ)
    except AuditShipError as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _stop_on_signals(job.deadline, job.settings.deadline_margin_seconds)
    total = Summary()
    shipped: Summary | None = None  # None: the run failed before it could say what it did
    try:
        if job.local:
            total.add(_ship_local(job))
        if job.remote:
            total.add(_ship_remote(job))
        shipped = total
    except ConfigError as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        job.sink.close()
        job.metrics.post(shipped)  # bounded; logs a failure, never raises
    return _report(total, job.readers)


def _sweep(args: argparse.Namespace, env: dict[str, str]) -> int:
    """--sweep: ship what has no done marker under a prefix (entrypoints/sweeping.py)."""
    try:
        request = parse_sweep_target(args.sweep, args.older_than)
        job = _job(args, env)
    except (ValueError, AuditShipError) as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _stop_on_signals(job.deadline, job.settings.deadline_margin_seconds)
    shipped: Summary | None = None
    try:
        swept = sweep(request, _remote_runtime(job), settings=job.settings,
                      storage=job.clients.object_storage, deadline=job.deadline)  # fmt: skip
        shipped = swept.summary
    except ConfigError as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        job.sink.close()
        job.metrics.post(shipped)
    return _report(swept.summary, job.readers, swept.to_json_dict())


def _collect(args: argparse.Namespace, env: dict[str, str], address: ApiAddress) -> int:
    """An API source: plan the windows, collect them, print the summary."""

    deadline = Deadline.unlimited()
    try:
        given = {**env, "LOGZIO_TYPE": args.logzio_type or env.get("LOGZIO_TYPE", "")}
        settings = source_settings(address.kind, _settings(args, env), given)
        now = datetime.now(UTC)
        since, until = parse_since_until(args.since, args.until, now)
        clients = _oci_clients(args, settings)
        sink = build_sink(args.to, settings, clients)
    except AuditShipError as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _stop_on_signals(deadline, settings.deadline_margin_seconds)
    state = StateLocation.parse(args.state_dir)
    letters = None if not state.is_local else LocalDeadLetterStore(args.dead_letter_dir)
    run_metrics = _metrics(args, settings, clients, source=address.kind)
    collected: Summary | None = None  # None: the run failed before it collected
    try:
        with open_collector(
            address, settings=settings, clients=clients, sink=sink, state=state,
            dead_letters=letters, deadline=deadline, force=args.force, tally=run_metrics.tally,
        ) as collector:  # fmt: skip
            plan = collector.plan(since, until, now)
            bar = _window_bar(args, len(plan.units))
            collector.set_progress(bar)
            result = collector.run(plan)
        collected = result.summary
    except ConfigError as exc:
        print(f"oci-audit-ship: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuditShipError as exc:  # discovery failed, or another run holds the cursors
        failed = Summary(complete=False, errors=[str(exc)])
        return _report(failed, [])
    finally:
        sink.close()
        run_metrics.post(collected)
    return _report(result.summary, [], result.to_json_dict())


def _window_bar(args: argparse.Namespace, total: int) -> Callable[[int], None] | None:
    if not (args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())):
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="window", desc="collected", file=sys.stderr)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update


def _stop_on_signals(deadline: Deadline, grace: float) -> None:
    """SIGINT (Ctrl-C) and SIGTERM stop the run cleanly: no new batch, answers already
    asked for are awaited for half of `grace`, progress is saved, leases are released and
    the summary is printed (exit 2: run again to resume). A second signal aborts."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals are only delivered to the main thread (a test calling run())

    def stop(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        log.warning("%s: stopping, saving progress (a re-run resumes); again to abort", name)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        deadline.cancel(grace)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "oci-audit-ship")


def _report(total: Summary, readers: list[Any], line: dict[str, Any] | None = None) -> int:
    """The summary line on stderr (`line`, when the run's summary has more to say than
    `total`), and the exit code."""
    left = sum(r.not_replayed for r in readers if isinstance(r, DeadLetterReplayReader))
    if left:
        total.errors.append(
            f"{left} dead letters not replayed: bytes that were not JSON or could not be "
            "decompressed stay in their parts"
        )
    if line is None:
        line = total.to_json_dict()
    else:
        line["errors"] = total.errors
    sys.stderr.write(orjson.dumps(line).decode() + "\n")
    if not total.complete:
        return EXIT_INCOMPLETE
    return EXIT_REJECTED if total.rejected else EXIT_OK


def main() -> None:
    """The `oci-audit-ship` console script."""
    sys.exit(run())
