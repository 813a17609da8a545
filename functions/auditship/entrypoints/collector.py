"""The fdk handler of the collector functions (`functions/audit-collector`): an API source
on OCI Functions, state in the bucket (`STATE_DIR=oci://ns/bucket/prefix/`).

Payloads:
- `{}` (or empty, or `{"audit": {}}`): catch up from the checkpoint (what the schedule
  sends);
- `{"audit": {"since": "2026-06-01T00:00:00Z", "until": "..."}}`: a backfill (`since` may
  be a duration such as `30d`; `until` defaults to now minus the lag);
- `{"audit": {"units": [...], "shipped": {...}}}`: one part of a fan-out (below).
Add `"force": true` to collect windows already marked done again.

Fan-out: when a run has more windows to collect than `COLLECT_INLINE_WINDOWS` (default 300;
each window is at least one request), one 300-second invocation may not finish it. The
function then records the plan in the bucket (`<STATE_DIR><source>/plans/<time>.json`) and
invokes itself *detached* once per part (up to `COLLECT_FANOUT_WINDOWS` consecutive windows
of one region and compartment), each part a payload of the third form. A part collects its
windows like any run (leases, progress, done markers) and leaves the cursors alone; the next
catch-up (the schedule) walks the cursors over the windows the parts finished. Repeating a
backfill request skips finished windows and fans out the rest; a failed part can be re-
invoked alone with its payload from the plan.

The answer is the summary JSON; an incomplete run raises (fdk reports a failed call).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from auditship import metrics
from auditship.collector import Collected, Collector, Plan
from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.entrypoints.collecting import (
    ApiAddress,
    open_collector,
    parse_since_until,
    source_settings,
)
from auditship.entrypoints.fanout import DetachedInvoker
from auditship.entrypoints.handler import ShipFailedError, deadline_of, function_config
from auditship.entrypoints.wiring import build_sink
from auditship.errors import AuditShipError, ConfigError, PayloadError
from auditship.logs import configure_logging
from auditship.oci_clients import OciClients
from auditship.sinks.base import Sink
from auditship.sources.windows import Unit, rfc3339, stamp
from auditship.state.accounting import RunTally
from auditship.state.cursor_store import StateLocation
from auditship.state.cursors import exact

log = logging.getLogger("auditship")

SINKS = ("logzio", "oci-logging")


class _Container:
    """Settings, clients and the sink, built once per container and configuration."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._parts: tuple[Settings, OciClients, Sink] | None = None

    def parts(self, config: dict[str, str]) -> tuple[Settings, OciClients, Sink]:
        with self._lock:
            key = tuple(sorted(config.items()))
            if self._parts is None or key != self._key:
                settings = source_settings(self.kind, Settings.from_mapping(config), config)
                sink_kind = config.get("SINK", "").strip()
                if sink_kind not in SINKS:
                    raise ConfigError(f"SINK must be one of {', '.join(SINKS)}")
                if not settings.state_dir.startswith("oci://"):
                    raise ConfigError("STATE_DIR must be oci://<namespace>/<bucket>/<prefix>/")
                clients = OciClients(settings, auth=config.get("OCI_AUTH", "resource_principal"))
                sink = build_sink(sink_kind, settings, clients)
                if self._parts is not None:
                    self._parts[2].close()
                self._parts, self._key = (settings, clients, sink), key
            return self._parts


def make_collector_handler(kind: str) -> Callable[..., Any]:
    """The fdk entry point of the collector function of API source `kind` ("audit")."""
    container = _Container(kind)
    monitoring = metrics.MonitoringClients()  # built once per container, as the others

    def handler(ctx: Any, data: io.BytesIO | bytes | None = None) -> Any:
        from fdk import response

        configure_logging()
        payload = data.getvalue() if isinstance(data, io.BytesIO) else (data or b"")
        config = function_config(ctx)
        run = metrics.for_function(
            ctx, config, monitoring, sink=config.get("SINK", "").strip(),
            default_name=f"{kind}-collector", source=kind,
        )  # fmt: skip
        result: Collected | None = None  # None: the call failed before it collected
        try:
            request = _request(kind, payload)
            settings, clients, sink = container.parts(config)
            result = _handle(
                kind, request, settings, clients, sink, ctx, deadline_of(ctx), run.tally
            )
        except AuditShipError as exc:
            log.error("invocation failed: %s", exc)
            raise ShipFailedError(orjson.dumps({"error": str(exc)}).decode()) from None
        finally:  # at the end, and on failure too; bounded, and it never raises
            run.post(result.summary if result is not None else None, deadline_of(ctx))
        body = orjson.dumps(result.to_json_dict()).decode()
        print(body, file=sys.stderr, flush=True)  # one line per call in the function log
        if not result.summary.complete:
            raise ShipFailedError(body)
        return response.Response(
            ctx, response_data=body, headers={"Content-Type": "application/json"}
        )

    return handler


def _request(kind: str, payload: bytes) -> dict[str, Any]:
    if not payload.strip():
        return {}
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON ({exc.msg} at byte {exc.pos})") from None
    if not isinstance(doc, dict) or set(doc) - {kind, "force"}:
        raise PayloadError(f'expected {{}} or {{"{kind}": {{...}}}}, optionally with "force"')
    body = doc.get(kind) or {}
    if not isinstance(body, dict) or set(body) - {"since", "until", "units", "shipped"}:
        raise PayloadError(f'"{kind}" takes "since" and "until", or "units" and "shipped"')
    return {**body, "force": doc.get("force") is True}


def _handle(
    kind: str,
    request: dict[str, Any],
    settings: Settings,
    clients: OciClients,
    sink: Sink,
    ctx: Any,
    deadline: Deadline,
    tally: RunTally | None = None,
) -> Collected:
    state = StateLocation.parse(settings.state_dir)
    force = bool(request.get("force"))
    if "units" in request:
        return _run_part(kind, request, settings, clients, sink, state, deadline, force, tally)
    now = datetime.now(UTC)
    since, until = parse_since_until(request.get("since"), request.get("until"), now)
    address = ApiAddress(kind, settings.collect_compartment_ocid)
    with open_collector(
        address, settings=settings, clients=clients, sink=sink, state=state,
        dead_letters=None, deadline=deadline, force=force, tally=tally,
    ) as collector:  # fmt: skip
        plan = collector.plan(since, until, now)
        if len(plan.units) <= settings.collect_inline_windows:
            return collector.run(plan)
        return _fan_out(kind, collector, plan, settings, clients, state, ctx, now, force)


def parts_of(plan: Plan, windows: int) -> list[list[Unit]]:
    """The plan's units in parts of at most `windows` consecutive windows of one key."""
    by_key: dict[str, list[Unit]] = defaultdict(list)
    for unit in sorted(plan.units, key=lambda u: (u.key, u.start)):
        by_key[unit.key].append(unit)
    return [
        units[i : i + windows] for units in by_key.values() for i in range(0, len(units), windows)
    ]


def unit_json(unit: Unit) -> dict[str, Any]:
    """A window as a fan-out payload names it: exact to the microsecond (its edges are
    part of its version, so its done marker must be found under the same one)."""
    doc: dict[str, Any] = {
        "region": unit.region,
        "compartment": unit.compartment,
        "start": exact(unit.start),
        "end": exact(unit.end),
    }
    if unit.keep_from is not None:
        doc["keep_from"] = exact(unit.keep_from)
    if unit.keep_until is not None:
        doc["keep_until"] = exact(unit.keep_until)
    if unit.reask:
        doc["reask"] = unit.reask
    return doc


def _unit_of(kind: str, doc: Any) -> Unit:
    def moment(key: str) -> datetime | None:
        value = doc.get(key)
        return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))

    try:
        start, end = moment("start"), moment("end")
        if start is None or end is None or end <= start:
            raise ValueError("no window")
        region, compartment = str(doc["region"]), str(doc["compartment"])
        return Unit(
            kind, region, compartment, start, end, moment("keep_from"), moment("keep_until")
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise PayloadError(f"not a window of the fan-out: {str(doc)[:200]}") from None


def part_payload(kind: str, units: list[Unit], plan: Plan, force: bool) -> bytes:
    keys = {u.key for u in units}
    shipped = {k: sorted(plan.shipped[k]) for k in keys if plan.shipped.get(k)}
    body: dict[str, Any] = {"units": [unit_json(u) for u in units], "shipped": shipped}
    return orjson.dumps({kind: body, "force": force})


def _fan_out(
    kind: str,
    collector: Collector,
    plan: Plan,
    settings: Settings,
    clients: OciClients,
    state: StateLocation,
    ctx: Any,
    now: datetime,
    force: bool,
) -> Collected:
    invoke = DetachedInvoker(ctx, clients, settings, collector.deadline)
    invoke.require_id()
    parts = parts_of(plan, settings.collect_fanout_windows)
    payloads = [part_payload(kind, units, plan, force) for units in parts]
    record = {
        "created": rfc3339(now),
        "until": rfc3339(plan.until) if plan.until else None,
        "parts": [orjson.loads(p) for p in payloads],
    }
    name = f"{state.prefix}{kind}/plans/{stamp(now)}-{len(parts)}.json"
    _write_plan(clients, state, name, orjson.dumps(record))
    result = collector.settle(plan)
    invoked, failed = 0, []
    for index, payload in enumerate(payloads):
        try:
            invoke(payload)
            invoked += 1
        except AuditShipError as exc:
            failed.append(f"part {index} of {name}: {exc}")
    result.windows_not_started = len(plan.units)
    result.extra = {"fanned_out": {"plan": f"{state}{kind}/plans/", "parts": len(parts),
                                   "invoked": invoked, "record": name}}  # fmt: skip
    if failed:
        result.summary.complete = False
        result.summary.errors.extend(failed)
    return result


def _write_plan(clients: OciClients, state: StateLocation, name: str, body: bytes) -> None:
    from auditship.objectstore import put_small_object

    what = "writing the fan-out plan"
    put_small_object(clients.object_storage, state.ref(name), name, body, "application/json", what)


def _run_part(
    kind: str,
    request: dict[str, Any],
    settings: Settings,
    clients: OciClients,
    sink: Sink,
    state: StateLocation,
    deadline: Deadline,
    force: bool,
    tally: RunTally | None = None,
) -> Collected:
    units = [_unit_of(kind, u) for u in request.get("units") or []]
    if not units:
        raise PayloadError("a fan-out part names no window")
    shipped_doc = request.get("shipped") or {}
    if not isinstance(shipped_doc, dict):
        raise PayloadError('"shipped" maps region/compartment to event ids')
    plan = Plan(
        units=units,
        shipped={str(k): frozenset(str(i) for i in v) for k, v in shipped_doc.items()},
    )
    address = ApiAddress(kind, settings.collect_compartment_ocid)
    with open_collector(
        address, settings=settings, clients=clients, sink=sink, state=state,
        dead_letters=None, deadline=deadline, force=force, holds_cursors=False,
        regions=tuple(dict.fromkeys(u.region for u in units)),
        compartments=tuple(dict.fromkeys(u.compartment for u in units)), tally=tally,
    ) as collector:  # fmt: skip
        return collector.run(plan)
