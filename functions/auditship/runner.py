"""Runs one invocation (function or operator command): expands prefixes, ships each
object in turn with `pipeline.ship_object`, and sums the summaries.

`build_sink` is the one place that turns settings into a configured sink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from auditship.config import Settings
from auditship.deadletter import DeadLetterStore
from auditship.deadline import Deadline
from auditship.errors import AuditShipError, ConfigError
from auditship.ledger import Ledger
from auditship.model import ObjectRef, Summary
from auditship.normalize import NormalizeOptions, Normalizer
from auditship.pipeline import ShipOptions, ship_object
from auditship.sinks.base import Sink

log = logging.getLogger(__name__)

SINK_KINDS = ("logzio", "oci-logging", "stdout")


def build_sink(kind: str, settings: Settings, clients: Any = None, *, stream: Any = None) -> Sink:
    if kind == "stdout":
        from auditship.sinks.stdout import StdoutSink

        return StdoutSink(stream, log_type=settings.logzio_type)
    if kind == "logzio":
        from auditship.sinks.logzio import LogzioSink

        token: str | Callable[[], str]
        if settings.logzio_token_secret_ocid:
            if clients is None:
                raise ConfigError("LOGZIO_TOKEN_SECRET_OCID needs OCI credentials")
            secret_ocid = settings.logzio_token_secret_ocid
            clients.secret_text(secret_ocid)  # fail now if the secret cannot be read
            token = lambda: clients.secret_text(secret_ocid)  # noqa: E731 - re-read per request
        elif settings.logzio_token:
            token = settings.logzio_token
        else:
            raise ConfigError(
                "missing configuration: LOGZIO_TOKEN_SECRET_OCID (or LOGZIO_TOKEN for local use)"
            )
        return LogzioSink(
            settings.logzio_url,
            token,
            log_type=settings.logzio_type,
            max_batch_bytes=settings.logzio_max_batch_bytes,
            max_line_bytes=settings.logzio_max_line_bytes,
            compress_level=settings.logzio_compress_level,
        )
    if kind == "oci-logging":
        from auditship.sinks.oci_logging import OciLoggingSink

        if not settings.oci_log_id:
            raise ConfigError("missing configuration: OCI_LOG_ID")
        if clients is None:
            raise ConfigError("the oci-logging sink needs OCI credentials")
        return OciLoggingSink(
            clients.logging_ingestion,
            settings.oci_log_id,
            max_request_bytes=settings.oci_logging_max_request_bytes,
            max_entries=settings.oci_logging_max_entries,
            source=settings.oci_logging_source,
        )
    raise ConfigError(f"unknown sink {kind!r}; expected one of {', '.join(SINK_KINDS)}")


def normalizer_for(settings: Settings) -> Normalizer:
    return Normalizer(
        NormalizeOptions(redact_paths=settings.redact_paths, actions=settings.filter_actions)
    )


def ship_options_for(settings: Settings, force: bool = False) -> ShipOptions:
    return ShipOptions(
        max_record_bytes=settings.max_record_bytes,
        http_timeout_seconds=settings.http_timeout_seconds,
        deadline_margin_seconds=settings.deadline_margin_seconds,
        force=force,
        workers=settings.workers,
        fast_path=settings.fast_path,
    )


@dataclass
class Runtime:
    """Everything `ship_all` needs, wired by the handler or the operator command."""

    reader: Any
    sink: Sink
    normalizer: Normalizer
    dead_letters: DeadLetterStore
    ledger: Ledger
    options: ShipOptions
    lister: Callable[[str, str, str], Iterator[ObjectRef]] | None = None
    # Our own outputs live in the same bucket; never ship them (it would loop).
    own_prefixes: tuple[str, ...] = field(default_factory=tuple)


def ship_all(
    objects: Iterable[ObjectRef],
    prefixes: Iterable[tuple[str, str, str]],
    runtime: Runtime,
    deadline: Deadline,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    total = Summary()
    todo: list[ObjectRef] = list(objects)
    for ns, bucket, prefix in prefixes:
        if runtime.lister is None:
            raise ConfigError("prefix replays need Object Storage access")
        todo.extend(runtime.lister(ns, bucket, prefix))
    for position, obj in enumerate(todo):
        if any(obj.name.startswith(p) for p in runtime.own_prefixes if p):
            log.info("skipping %s: it is one of our own dead-letter or ledger objects", obj)
            continue
        if deadline.expired(runtime.options.deadline_margin_seconds):
            left = len(todo) - position
            total.complete = False
            total.errors.append(f"deadline reached with {left} object(s) not started")
            break
        try:
            if not obj.etag and hasattr(runtime.reader, "head"):
                obj = runtime.reader.head(obj)
            summary = ship_object(
                obj,
                reader=runtime.reader,
                sink=runtime.sink,
                normalizer=runtime.normalizer,
                dead_letters=runtime.dead_letters,
                ledger=runtime.ledger,
                deadline=deadline,
                options=runtime.options,
                progress=progress,
            )
        except AuditShipError as exc:
            summary = Summary(objects=1, complete=False, errors=[str(exc)])
        except Exception as exc:  # a bug or an unexpected SDK error: this object failed
            log.exception("unexpected error while shipping %s", obj)
            summary = Summary(
                objects=1, complete=False, errors=[f"{obj}: unexpected {type(exc).__name__}"]
            )
        total.add(summary)
        if summary.credentials_rejected:
            # Credentials are wrong for every object: stop instead of failing each one.
            break
    return total
