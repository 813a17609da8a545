"""Normalize: one parsed record in, the record as the sinks should see it out.

Contract (the only changes made to a record; every other field is left as it was):
- A Logging search-result wrapper `{"datetime": ..., "logContent": {...}}` is unwrapped to
  its `logContent`; the wrapper's `datetime` is the fallback event time.
- The event time is the record's own `time` (Logging `_Audit` shape), else `eventTime`
  (Audit API shape), else `auditEventTime` (Data Safe), else, for records of bus-stop
  files and database exports (`stamped`), the `@timestamp` their readers set (`formats`),
  else the wrapper's `datetime` (epoch ms). Strings are kept as written
  (OCI writes RFC 3339 UTC); epoch numbers become RFC 3339 UTC with milliseconds.
- Optional filter on `data.request.action` (off by default: the connector already filters).
  Filtered records are counted, never shipped, never dead-lettered.
- Redaction (on by default): the values of credential-bearing keys listed in
  `DEFAULT_REDACT_PATHS` are replaced by "[REDACTED]" (a list of strings becomes
  ["[REDACTED]"], so field types stay stable for the index). The last path segment is
  matched case-insensitively, because HTTP header names arrive in any case.

Sink-specific keys (`@timestamp`, `type` for Logz.io) are added by the sinks, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"

# Where OCI audit records carry credentials or bearer material. Header names are matched
# case-insensitively. `identity.credentials` holds the API key id or token reference used.
DEFAULT_REDACT_PATHS: tuple[str, ...] = (
    "data.identity.credentials",
    "data.request.headers.authorization",
    "data.request.headers.opc-principal",
    "data.request.headers.opc-obo-token",
    "data.request.headers.x-auth-token",
    "data.request.headers.cookie",
    "data.response.headers.set-cookie",
)

# One step of the redaction plan: the path to a container, and the lower-cased names of
# its keys to redact.
RedactStep = tuple[tuple[str, ...], frozenset[str]]


def build_redact_plan(paths: Iterable[str]) -> tuple[RedactStep, ...]:
    """Group dotted paths by container, so each record is walked once per container."""
    groups: dict[tuple[str, ...], set[str]] = {}
    for path in paths:
        parts = [p for p in path.strip().split(".") if p]
        if parts:
            groups.setdefault(tuple(parts[:-1]), set()).add(parts[-1].lower())
    return tuple((container, frozenset(names)) for container, names in groups.items())


def redact(record: dict[str, Any], plan: tuple[RedactStep, ...]) -> None:
    for container, names in plan:
        node: Any = record
        for key in container:
            node = node.get(key)
            if type(node) is not dict:
                break
        else:
            for key, value in node.items():
                # Assigning to an existing key does not resize the dict: safe while iterating.
                if value is not None and key.lower() in names:
                    node[key] = [REDACTED] if isinstance(value, list) else REDACTED


def epoch_to_rfc3339(value: float) -> str:
    # Logging search results carry epoch milliseconds; seconds are accepted for
    # values too small to be milliseconds of this century.
    seconds = value / 1000.0 if value > 1e11 else float(value)
    dt = datetime.fromtimestamp(seconds, tz=UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time_value(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return epoch_to_rfc3339(value)
        except (OverflowError, OSError, ValueError):
            return None
    return None


@dataclass(frozen=True, slots=True)
class NormalizeOptions:
    redact_paths: tuple[str, ...] = DEFAULT_REDACT_PATHS
    actions: frozenset[str] | None = None  # keep only these data.request.action values


class Normalizer:
    """Applies `NormalizeOptions` to records. Build once, call per record."""

    def __init__(self, options: NormalizeOptions | None = None, stamped: bool = False) -> None:
        self.options = options or NormalizeOptions()
        # Only format readers' records: an audit JSON record's own `@timestamp` is not
        # its event time (and the C fast path, which must agree, never reads it).
        self._stamped = stamped
        self._plan = build_redact_plan(self.options.redact_paths)
        names = sorted({name for _, step in self._plan for name in step})
        self._scrub = (
            re.compile(
                rb'("(?:' + b"|".join(re.escape(n.encode()) for n in names) + rb')"\s*:\s*)'
                # a string, a list of strings, an object without nesting, or a bare value
                rb'(?:"(?:[^"\\]|\\.)*"?|\[(?:"(?:[^"\\]|\\.)*"?|[^\]"])*\]?'
                rb"|\{[^{}]*\}?|[-\w.+]+)",
                re.IGNORECASE | re.DOTALL,
            )
            if names
            else None
        )
        self._actions = (
            frozenset(a.upper() for a in self.options.actions) if self.options.actions else None
        )

    @property
    def redact_plan(self) -> tuple[RedactStep, ...]:
        return self._plan

    def scrub(self, raw: bytes) -> bytes:
        """Redaction for bytes that are not a record (a dead letter's raw bytes): the
        values of the same keys, found textually (a string, a list, an object without
        nesting, a bare value), anywhere. Best effort: a key cut by the damage or written
        with escapes, or a value nested deeper, is not found."""
        if self._scrub is None or not raw:
            return raw
        return self._scrub.sub(rb'\1"' + REDACTED.encode() + rb'"', raw)

    @property
    def actions(self) -> frozenset[str] | None:
        """The upper-cased actions kept, or None when the action filter is off."""
        return self._actions

    def __call__(self, record: dict[str, Any]) -> tuple[dict[str, Any], str | None] | None:
        """Return (record, event time) or None when the action filter drops it."""
        fallback = None
        inner = record.get("logContent")
        if type(inner) is dict and "datetime" in record:
            fallback = record.get("datetime")
            record = inner
        event_time = _time_value(record.get("time"))
        if event_time is None:
            event_time = (
                _time_value(record.get("eventTime"))
                or _time_value(record.get("auditEventTime"))
                or (self._stamped and _time_value(record.get("@timestamp")))
                or _time_value(fallback)
            )
        if self._actions is not None and _action(record) not in self._actions:
            return None
        if self._plan:
            redact(record, self._plan)
        return record, event_time


def _action(record: dict[str, Any]) -> str | None:
    data = record.get("data")
    if type(data) is dict:
        request = data.get("request")
        if type(request) is dict:
            action = request.get("action")
            if isinstance(action, str):
                return action.upper()
    return None
