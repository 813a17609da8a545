"""The fdk handler shared by every function: parse the payload, ship, answer a summary.

Per container (not per call) we build the settings, the OCI clients with resource-principal
auth, and the sink with its persistent HTTP session: the SDK leaks memory when signers are
re-created, and reusing connections saves a TLS handshake per call.

Success is answered only when every record of every named object was delivered or
dead-lettered. Otherwise the handler raises, so fdk answers an error (fdk turns any status
but 200/502/504 into 200, so an exception is the only reliable failure signal); the
summary is logged as one JSON line either way, and the checkpoint lets a retry resume.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from auditship import metrics
from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.delivery.deadletter import ObjectStorageDeadLetterStore
from auditship.entrypoints.events import parse_invocation
from auditship.entrypoints.sweeping import sweep_in_function
from auditship.entrypoints.wiring import build_sink, normalizer_for, ship_options_for
from auditship.errors import AuditShipError
from auditship.logs import configure_logging
from auditship.model import Summary
from auditship.oci_clients import OciClients
from auditship.shipping import Runtime, ship_all
from auditship.sources.object_storage import ObjectStorageReader
from auditship.state.ledger import ObjectStorageLedger
from auditship.transforms import fastpath

log = logging.getLogger("auditship")

_DEFAULT_BUDGET_SECONDS = 300.0  # the longest a synchronous OCI function may run


class ShipFailedError(Exception):
    """Raised to make fdk report a failed invocation. The message is the summary JSON."""


class _Container:
    """What lives as long as the function container: built on the first call."""

    def __init__(self, sink_kind: str) -> None:
        self.sink_kind = sink_kind
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self.settings: Settings | None = None
        self.clients: OciClients | None = None
        self.runtime: Runtime | None = None

    def runtime_for(self, config: dict[str, str], force: bool) -> Runtime:
        with self._lock:
            key = tuple(sorted(config.items()))
            if self.runtime is None or key != self._key:
                settings = Settings.from_mapping(config)
                if settings.logzio_token and not settings.logzio_token_secret_ocid:
                    # Accepted so a function can be tried out, but function configuration is
                    # visible to anyone who can read the function: production uses Vault.
                    log.warning(
                        "LOGZIO_TOKEN is set in function configuration; store the token in "
                        "OCI Vault and set LOGZIO_TOKEN_SECRET_OCID instead"
                    )
                log.info("record preparation: %s", fastpath.describe(settings.fast_path))
                clients = OciClients(settings, auth=config.get("OCI_AUTH", "resource_principal"))
                sink = build_sink(self.sink_kind, settings, clients)
                if self.runtime is not None:
                    self.runtime.sink.close()
                reader = ObjectStorageReader(clients.object_storage)
                self.runtime = Runtime(
                    reader=reader,
                    sink=sink,
                    normalizer=normalizer_for(settings),
                    dead_letters=ObjectStorageDeadLetterStore(
                        clients.object_storage, settings.dead_letter_prefix
                    ),
                    ledger=ObjectStorageLedger(clients.object_storage, settings.ledger_prefix),
                    options=ship_options_for(settings),
                    lister=reader.list,
                    own_prefixes=(settings.dead_letter_prefix, settings.ledger_prefix),
                )
                self.settings, self.clients, self._key = settings, clients, key
            runtime = self.runtime
        # Per call, without touching the container's shared options.
        return replace(runtime, options=replace(runtime.options, force=force))


def deadline_of(ctx: Any) -> Deadline:
    try:
        raw = ctx.Deadline()
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return Deadline.after((when - datetime.now(UTC)).total_seconds())
    except (AttributeError, TypeError, ValueError):
        return Deadline.after(_DEFAULT_BUDGET_SECONDS)


def function_config(ctx: Any) -> dict[str, str]:
    try:
        config = ctx.Config()
    except AttributeError:
        config = os.environ
    return {str(k): str(v) for k, v in dict(config).items()}


def make_handler(sink_kind: str) -> Callable[..., Any]:
    """Build the fdk entry point for a function whose records go to `sink_kind`."""
    container = _Container(sink_kind)
    monitoring = metrics.MonitoringClients()  # built once per container, as the others

    def handler(ctx: Any, data: io.BytesIO | bytes | None = None) -> Any:
        from fdk import response

        configure_logging()
        payload = data.getvalue() if isinstance(data, io.BytesIO) else (data or b"")
        config = function_config(ctx)
        run = metrics.for_function(
            ctx, config, monitoring, sink=sink_kind, default_name=f"{sink_kind}-shipper"
        )
        summary: Summary | None = None  # None: the call failed before it shipped anything
        try:
            invocation = parse_invocation(payload)
            runtime = container.runtime_for(config, invocation.force)
            runtime = replace(runtime, options=replace(runtime.options, tally=run.tally))
            if invocation.sweep is not None:
                assert container.settings is not None  # built by runtime_for
                swept = sweep_in_function(
                    invocation.sweep, runtime, settings=container.settings,
                    clients=container.clients, ctx=ctx, deadline=deadline_of(ctx),
                )  # fmt: skip
                summary, line = swept.summary, swept.to_json_dict()
            else:
                summary = ship_all(
                    invocation.objects, invocation.prefixes, runtime, deadline_of(ctx)
                )
                line = summary.to_json_dict()
        except AuditShipError as exc:
            log.error("invocation failed: %s", exc)
            raise ShipFailedError(orjson.dumps({"error": str(exc)}).decode()) from None
        finally:  # at the end, and on failure too; bounded, and it never raises
            run.post(summary, deadline_of(ctx))
        body = orjson.dumps(line).decode()
        print(body, file=sys.stderr, flush=True)  # one line per call in the function log
        if not summary.complete:
            raise ShipFailedError(body)
        return response.Response(
            ctx, response_data=body, headers={"Content-Type": "application/json"}
        )

    return handler
