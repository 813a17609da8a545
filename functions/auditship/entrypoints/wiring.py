"""Settings -> the parts of a run: the one place that turns configuration into a sink, a
normalizer and shipping options (the handler and the operator command both use it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditship.config import Settings
from auditship.errors import ConfigError
from auditship.formats.options import FormatOptions
from auditship.pipeline import ShipOptions
from auditship.sinks.base import Sink
from auditship.transforms.normalize import NormalizeOptions, Normalizer

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
        checkpoint_seconds=settings.checkpoint_seconds,
        force=force,
        workers=settings.workers,
        fast_path=settings.fast_path,
        formats=FormatOptions(
            fmw_type=settings.fmw_type,
            dbaudit_type=settings.dbaudit_type,
            time_zone=settings.dbaudit_time_zone,
        ),
    )
