"""API sources from configuration to a running collector: the one place the operator
command and the collector function turn `audit:[<compartment-ocid>]` (and the settings)
into a scope, a source, state and a `collector.Collector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from auditship.collector import CollectOptions, Collector
from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.delivery.deadletter import DeadLetterStore, ObjectStorageDeadLetterStore
from auditship.entrypoints.wiring import normalizer_for, ship_options_for
from auditship.errors import ConfigError
from auditship.oci_clients import OciClients
from auditship.sinks.base import Sink
from auditship.sources.api_records import ApiSource
from auditship.sources.api_requests import API_POLICY
from auditship.sources.audit_api import AuditApiSource
from auditship.sources.data_safe import REDACT_CHOICES, DataSafeSource
from auditship.sources.tenancy import Scope, compartment_tree, subscribed_regions
from auditship.sources.throttle import Throttle
from auditship.state.accounting import RunTally
from auditship.state.cursor_store import StateLocation, open_state

API_SOURCES = ("audit", "datasafe")


@dataclass(frozen=True)
class ApiAddress:
    """`audit:` / `datasafe:` (the whole tenancy) or `audit:<compartment-ocid>` (that
    subtree)."""

    kind: str
    compartment: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.compartment}"


def parse_api_address(text: str) -> ApiAddress | None:
    """The API source a command-line source names, or None for files and oci:// objects."""
    kind, colon, rest = text.partition(":")
    if not colon or kind not in API_SOURCES or rest.startswith("//"):
        return None
    rest = rest.strip()
    if rest and not rest.startswith(("ocid1.compartment.", "ocid1.tenancy.")):
        raise ConfigError(f"{text}: expected {kind}: or {kind}:<compartment or tenancy OCID>")
    return ApiAddress(kind, rest)


def collect_options(settings: Settings) -> CollectOptions:
    return CollectOptions(
        window=settings.collect_window,
        overlap=settings.collect_overlap,
        lag=settings.collect_lag,
        concurrency=settings.collect_concurrency,
        retries=settings.collect_retries,
    )


def api_source(
    kind: str, clients: OciClients, throttle: Throttle, options: CollectOptions
) -> ApiSource:
    policy = replace(API_POLICY, max_attempts=options.retries)
    if kind == "audit":
        return AuditApiSource(clients.audit, clients.tenancy_id, throttle, policy)
    if kind == "datasafe":
        record_type = clients.settings.datasafe_type
        return DataSafeSource(clients.data_safe, throttle, policy, record_type)
    raise ConfigError(f"unknown API source {kind!r}")


def discover(
    address: ApiAddress,
    settings: Settings,
    clients: OciClients,
    throttle: Throttle,
    deadline: Deadline,
) -> Scope:
    tenancy = clients.tenancy_id
    root = address.compartment or settings.collect_compartment_ocid or tenancy
    identity = clients.identity
    regions = subscribed_regions(identity, tenancy, settings.collect_regions, throttle, deadline)
    if address.kind == "datasafe":  # one query per region covers the subtree
        return Scope(tenancy, root, regions, (root,))
    compartments = compartment_tree(identity, tenancy, root, throttle, deadline)
    return Scope(tenancy, root, regions, compartments)


def source_settings(kind: str, settings: Settings, given: Mapping[str, str]) -> Settings:
    """Settings as a source needs them: Data Safe records carry their own type (also their
    Logz.io type unless LOGZIO_TYPE is given), have no `data.request.action` to filter on,
    and are redacted by `DATASAFE_REDACT`, not by the `_Audit` paths."""
    if kind != "datasafe":
        return settings
    logzio_type = settings.logzio_type if given.get("LOGZIO_TYPE") else settings.datasafe_type
    return replace(
        settings,
        logzio_type=logzio_type,
        filter_actions=None,
        redact_paths=REDACT_CHOICES[settings.datasafe_redact],
    )


@contextmanager
def open_collector(
    address: ApiAddress,
    *,
    settings: Settings,
    clients: OciClients,
    sink: Sink,
    state: StateLocation,
    dead_letters: DeadLetterStore | None,
    deadline: Deadline,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    holds_cursors: bool = True,
    regions: tuple[str, ...] = (),
    compartments: tuple[str, ...] = (),
    tally: RunTally | None = None,
) -> Iterator[Collector]:
    """A collector for `address`, holding its source's lease (and its cursors) while the
    block runs. A fan-out part (`holds_cursors` False) collects the windows it is given,
    in the `regions` and `compartments` they name, and leaves the cursors alone. `tally`:
    the run's, when it posts metrics (metrics.py)."""
    options = collect_options(settings)
    throttle = Throttle(options.concurrency)
    if holds_cursors:
        scope = discover(address, settings, clients, throttle, deadline)
    else:
        scope = Scope(clients.tenancy_id, address.compartment, regions, compartments)
    storage = None if state.is_local else clients.object_storage
    ledger, book = open_state(state, address.kind, storage)
    if dead_letters is None:
        if state.is_local:
            raise ConfigError("local state needs a dead-letter folder")
        dead_letters = ObjectStorageDeadLetterStore(storage, settings.dead_letter_prefix)
    collector = Collector(
        api_source(address.kind, clients, throttle, options),
        scope,
        state=state,
        ledger=ledger,
        book=book,
        sink=sink,
        normalizer=normalizer_for(settings),
        dead_letters=dead_letters,
        deadline=deadline,
        options=replace(ship_options_for(settings, force=force), tally=tally),
        collect=options,
        throttle=throttle,
        progress=progress,
    )
    if not holds_cursors:
        yield collector
        return
    with collector:
        yield collector


def parse_since_until(
    since: str | None, until: str | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    from auditship.sources.windows import parse_instant

    try:
        start = parse_instant(since, now) if since else None
        end = parse_instant(until, now) if until else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if start is not None and end is not None and end <= start:
        raise ConfigError("--until must be later than --since")
    if end is not None and end > now:
        raise ConfigError("--until is in the future")
    return start, end
