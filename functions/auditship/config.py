"""Configuration: one typed object built once from a mapping (function config, which fdk
exposes as environment variables, or the operator command's flags and environment).

`Settings.from_mapping` reads every key, and raises one `ConfigError` naming every missing
or invalid key. Only this module reads configuration; everything else takes values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from auditship.errors import ConfigError
from auditship.transforms.normalize import DEFAULT_REDACT_PATHS

LOGZIO_MAX_BODY_BYTES = 10_485_760  # documented listener limit for one request
LOGZIO_MAX_LINE_BYTES = 500_000  # documented listener limit for one line
PUTLOGS_MAX_ENTRY_BYTES = 1_000_000  # "each entry should be less than 1 MB"

DEFAULT_LOGZIO_URL = "https://listener.logz.io:8071"

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    # Logz.io
    logzio_url: str = DEFAULT_LOGZIO_URL
    logzio_token: str = field(default="", repr=False)  # local use only; never logged
    logzio_token_secret_ocid: str = ""
    logzio_type: str = "oci-audit"
    # 3 MiB: each batch in flight costs several times its size in memory (lines, joined body,
    # gzip copy, the next batch being built); 3 MiB keeps a 1 GB object under ~90 MB RSS.
    logzio_max_batch_bytes: int = 3 * 1024 * 1024
    logzio_max_line_bytes: int = LOGZIO_MAX_LINE_BYTES
    logzio_compress_level: int = 1
    # OCI Logging (PutLogs)
    oci_log_id: str = ""
    oci_logging_max_request_bytes: int = 4 * 1024 * 1024
    oci_logging_max_entries: int = 500
    oci_logging_source: str = "oci-audit-ship"
    # Shared
    dead_letter_prefix: str = "dead-letter/"
    ledger_prefix: str = "shipped/"
    filter_actions: frozenset[str] | None = None
    redact_paths: tuple[str, ...] = DEFAULT_REDACT_PATHS
    max_record_bytes: int = 8 * 1024 * 1024
    http_timeout_seconds: float = 30.0
    deadline_margin_seconds: float = 20.0
    checkpoint_seconds: float = 10.0  # progress saved this often while running
    workers: int = 1  # record-preparation threads (fast path) or processes (see prepare.py)
    fast_path: bool = True  # the C fast path for Logz.io, when built (see fastpath.py)
    # API sources (the collector): see collector.CollectOptions
    collect_window: timedelta = timedelta(days=1)
    collect_overlap: timedelta = timedelta(minutes=10)
    collect_lag: timedelta = timedelta(minutes=10)
    # I/O-bound: 16 keeps a 2-core machine busy at 0.2 s a request (docs/benchmark.md);
    # the throttle halves it on 429.
    collect_concurrency: int = 16
    collect_retries: int = 8  # attempts per API request (429, 5xx, network errors)
    collect_regions: tuple[str, ...] = ()  # empty: every subscribed, READY region
    collect_compartment_ocid: str = ""  # empty: the whole tenancy
    state_dir: str = ""  # oci://ns/bucket/prefix/ for functions; a folder for local runs
    datasafe_type: str = "oci-datasafe"  # `type` of Data Safe records (and their Logz.io type)
    datasafe_redact: str = "none"  # none | binds (commandParam) | sql (and commandText)
    # Oracle audit files (formats.py): the `type` of their records and how zone-less
    # database timestamps are read.
    fmw_type: str = "oracle-fmw-audit"  # Fusion Middleware bus-stop files
    dbaudit_type: str = "oracle-db-audit"  # database audit exports (CSV, SQLcl JSON)
    dbaudit_time_zone: str = "UTC"  # an IANA name or +HH:MM (AUDIT_TRAIL$.TIMESTAMP: session zone)
    # OCI Monitoring (metrics.py): off while no compartment is given.
    metrics_compartment_ocid: str = ""
    # Not oci_audit_ship, as issue 14 suggested: PostMetricData reserves the "oci_" prefix
    # (MetricDataDetails.namespace, oci-python-sdk monitoring/models/metric_data_details.py).
    metrics_namespace: str = "auditship"
    # The reconciliation sweep (sweep.py): objects younger than this are left to their event.
    sweep_older_than: timedelta = timedelta(minutes=15)
    sweep_fanout_objects: int = 20  # objects per detached invocation when a sweep fans out
    # A function fans out a run of more windows than this (each is at least one request).
    collect_inline_windows: int = 300
    collect_fanout_windows: int = 31  # windows per detached invocation
    # Endpoint overrides (tests, private endpoints, the operator command); the audit and
    # Data Safe ones may contain {region}.
    objectstorage_endpoint: str = ""
    logging_ingestion_endpoint: str = ""
    secrets_endpoint: str = ""
    identity_endpoint: str = ""
    audit_endpoint: str = ""
    datasafe_endpoint: str = ""
    functions_endpoint: str = ""
    functions_invoke_endpoint: str = ""
    monitoring_endpoint: str = ""  # telemetry-ingestion (PostMetricData)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        errors: list[str] = []

        def get(key: str, default: T, parse: Callable[[str], T]) -> T:
            raw = env.get(key)
            if raw is None or raw.strip() == "":
                return default
            try:
                return parse(raw.strip())
            except (ValueError, TypeError) as exc:
                errors.append(f"{key}: {exc}")
                return default

        kwargs: dict[str, Any] = {
            "logzio_url": get("LOGZIO_URL", DEFAULT_LOGZIO_URL, _url),
            "logzio_token": env.get("LOGZIO_TOKEN", "").strip(),
            "logzio_token_secret_ocid": get("LOGZIO_TOKEN_SECRET_OCID", "", _ocid("vaultsecret")),
            "logzio_type": get("LOGZIO_TYPE", "oci-audit", _log_type),
            "logzio_max_batch_bytes": get(
                "LOGZIO_MAX_BATCH_BYTES", cls.logzio_max_batch_bytes,
                _int_between(1024, LOGZIO_MAX_BODY_BYTES),
            ),
            "logzio_max_line_bytes": get(
                "LOGZIO_MAX_LINE_BYTES", LOGZIO_MAX_LINE_BYTES,
                _int_between(256, LOGZIO_MAX_LINE_BYTES),
            ),
            "logzio_compress_level": get("LOGZIO_COMPRESS_LEVEL", 1, _int_between(0, 3)),
            "oci_log_id": get("OCI_LOG_ID", "", _ocid("log")),
            "oci_logging_max_request_bytes": get(
                "OCI_LOGGING_MAX_REQUEST_BYTES", cls.oci_logging_max_request_bytes,
                _int_between(PUTLOGS_MAX_ENTRY_BYTES + 4096, 9 * 1024 * 1024),
            ),
            "oci_logging_max_entries": get(
                "OCI_LOGGING_MAX_ENTRIES", cls.oci_logging_max_entries, _int_between(1, 10_000)
            ),
            "oci_logging_source": get("OCI_LOGGING_SOURCE", cls.oci_logging_source, _nonempty),
            "dead_letter_prefix": get("DEAD_LETTER_PREFIX", cls.dead_letter_prefix, _prefix),
            "ledger_prefix": get("LEDGER_PREFIX", cls.ledger_prefix, _prefix),
            "filter_actions": get("FILTER_ACTIONS", None, _actions),
            "redact_paths": get("REDACT_PATHS", DEFAULT_REDACT_PATHS, _redact_paths),
            "max_record_bytes": get(
                "MAX_RECORD_BYTES", cls.max_record_bytes, _int_between(1024, 64 * 1024 * 1024)
            ),
            "http_timeout_seconds": get("HTTP_TIMEOUT_SECONDS", 30.0, _float_between(1, 300)),
            "deadline_margin_seconds": get(
                "DEADLINE_MARGIN_SECONDS", 20.0, _float_between(0, 120)
            ),
            "checkpoint_seconds": get(
                "CHECKPOINT_SECONDS", cls.checkpoint_seconds, _float_between(0.1, 300)
            ),
            "workers": get("WORKERS", 1, _int_between(1, 16)),
            "fast_path": get("FAST_PATH", True, _on_off),
            "collect_window": get("COLLECT_WINDOW", cls.collect_window, _window),
            "collect_overlap": get("COLLECT_OVERLAP", cls.collect_overlap, _minutes_up_to_day),
            "collect_lag": get("COLLECT_LAG", cls.collect_lag, _minutes_up_to_day),
            "collect_concurrency": get(
                "COLLECT_CONCURRENCY", cls.collect_concurrency, _int_between(1, 64)
            ),
            "collect_retries": get("COLLECT_RETRIES", cls.collect_retries, _int_between(1, 20)),
            "collect_regions": get("COLLECT_REGIONS", cls.collect_regions, _names),
            "collect_compartment_ocid": get(
                "COLLECT_COMPARTMENT_OCID", "", _ocid_any("compartment", "tenancy")
            ),
            "state_dir": get("STATE_DIR", "", _nonempty),
            "datasafe_type": get("DATASAFE_TYPE", cls.datasafe_type, _log_type),
            "datasafe_redact": get(
                "DATASAFE_REDACT", cls.datasafe_redact, _choice("none", "binds", "sql")
            ),
            "collect_inline_windows": get(
                "COLLECT_INLINE_WINDOWS", cls.collect_inline_windows, _int_between(1, 100_000)
            ),
            "collect_fanout_windows": get(
                "COLLECT_FANOUT_WINDOWS", cls.collect_fanout_windows, _int_between(1, 1000)
            ),
            "fmw_type": get("FMW_TYPE", cls.fmw_type, _log_type),
            "dbaudit_type": get("DBAUDIT_TYPE", cls.dbaudit_type, _log_type),
            "dbaudit_time_zone": get("DBAUDIT_TIME_ZONE", cls.dbaudit_time_zone, _time_zone),
            "metrics_compartment_ocid": get(
                "METRICS_COMPARTMENT_OCID", "", _ocid_any("compartment", "tenancy")
            ),
            "metrics_namespace": get("METRICS_NAMESPACE", cls.metrics_namespace, _namespace),
            "sweep_older_than": get("SWEEP_OLDER_THAN", cls.sweep_older_than, _duration),
            "sweep_fanout_objects": get(
                "SWEEP_FANOUT_OBJECTS", cls.sweep_fanout_objects, _int_between(1, 1000)
            ),
            "monitoring_endpoint": get("OCI_MONITORING_ENDPOINT", "", _url),
            "objectstorage_endpoint": get("OCI_OBJECTSTORAGE_ENDPOINT", "", _url),
            "identity_endpoint": get("OCI_IDENTITY_ENDPOINT", "", _url),
            "audit_endpoint": get("OCI_AUDIT_ENDPOINT", "", _url),
            "datasafe_endpoint": get("OCI_DATASAFE_ENDPOINT", "", _url),
            "functions_endpoint": get("OCI_FUNCTIONS_ENDPOINT", "", _url),
            "functions_invoke_endpoint": get("OCI_FUNCTIONS_INVOKE_ENDPOINT", "", _url),
            "logging_ingestion_endpoint": get("OCI_LOGGING_INGESTION_ENDPOINT", "", _url),
            "secrets_endpoint": get("OCI_SECRETS_ENDPOINT", "", _url),
        }  # fmt: skip
        if errors:
            raise ConfigError("invalid configuration: " + "; ".join(errors))
        return cls(**kwargs)


def _duration(raw: str) -> timedelta:
    from auditship.sources.windows import parse_duration

    value = parse_duration(raw)
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


def _window(raw: str) -> timedelta:
    value = _duration(raw)
    if value % timedelta(minutes=1) or not timedelta(minutes=1) <= value <= timedelta(days=14):
        raise ValueError("a whole number of minutes, from 1m to 14d")
    return value


def _minutes_up_to_day(raw: str) -> timedelta:
    from auditship.sources.windows import parse_duration

    value = parse_duration(raw)
    if value % timedelta(minutes=1) or value > timedelta(days=1):
        raise ValueError("a whole number of minutes, at most 1d")
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _names(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))


def _ocid_any(*kinds: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not any(raw.startswith(f"ocid1.{kind}.") for kind in kinds):
            expected = " or ".join(f"ocid1.{k}." for k in kinds)
            raise ValueError(f"expected an OCID starting with {expected}")
        return raw

    return parse


def _url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ValueError("must start with https:// (or http:// for loopback tests)")
    if "?" in raw:
        raise ValueError("must not carry a query string (the token is added separately)")
    return raw.rstrip("/")


def _ocid(kind: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(f"ocid1.{kind}."):
            raise ValueError(f"expected an OCID starting with ocid1.{kind}.")
        return raw

    return parse


def _log_type(raw: str) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("Logz.io type must not contain spaces")
    return raw


def _time_zone(raw: str) -> str:
    from auditship.formats.timestamps import zone_of

    zone_of(raw)  # raises ValueError naming what is wrong
    return raw


def _namespace(raw: str) -> str:
    from auditship.metrics import check_namespace  # the PostMetricData rule, in one place

    check_namespace(raw)
    return raw


def _nonempty(raw: str) -> str:
    return raw


def _int_between(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _float_between(lo: float, hi: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _on_off(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off"):
        raise ValueError("must be on or off")
    return value == "on"


def _prefix(raw: str) -> str:
    if raw.startswith("/"):
        raise ValueError("object name prefixes do not start with /")
    return raw if raw.endswith("/") else raw + "/"


def _actions(raw: str) -> frozenset[str] | None:
    actions = frozenset(a.strip().upper() for a in raw.split(",") if a.strip())
    bad = sorted(a for a in actions if not a.isalpha())
    if bad:
        raise ValueError(f"not HTTP methods: {', '.join(bad)}")
    return actions or None


def _redact_paths(raw: str) -> tuple[str, ...]:
    if raw.lower() == "none":
        return ()
    paths: list[str] = []
    for item in raw.split(","):
        item = item.strip()
        if item.lower() == "default":
            paths.extend(DEFAULT_REDACT_PATHS)
        elif item:
            paths.append(item)
    return tuple(paths)
