"""Fast path from one record's bytes to its finished Logz.io NDJSON line.

The general path parses a whole record into Python objects (orjson), normalizes it
(`normalize.Normalizer`), adds the Logz.io keys (`sinks.logzio.LogzioSink.prepare`) and
serializes all of it again. Most of a record is never looked at on the way, so
`LineBuilder` decodes only what normalization touches, with msgspec:

- the record's top level becomes `{key: Raw}`, where a `Raw` is the value's exact bytes,
  validated but not turned into Python objects;
- only the containers on a redaction path (`data`, `data.identity`, `data.request`, ...)
  are decoded further, the same way, and only the changed ones are encoded again;
- every other value is written back byte for byte.

Contract: when `build(piece)` returns a line, that line parses to the same JSON value, with
the same top-level key order, as the general path gives for the same bytes, except that
numbers are kept exactly as written (the general path reads them as doubles or 64-bit
integers). When it cannot promise that it returns None, and the caller takes the general
path, which also decides what is a reject. It returns None for:
- bytes that are not one valid JSON object, or not valid UTF-8;
- a record spread over lines (raw newlines would break NDJSON);
- a time that is a number (the general path converts epoch values);
- a line longer than the sink accepts (the general path refuses it with its reason);
- anything else unusual; `Normalizer` options it does not mirror (an action filter) make
  `for_logzio` return no builder at all.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw

from auditship.normalize import REDACTED, Normalizer
from auditship.sinks.base import LineBuilderFn

_decode_object = msgspec.json.Decoder(dict[str, Raw]).decode
_encode = msgspec.json.Encoder().encode
_DecodeErrors = (msgspec.DecodeError, msgspec.ValidationError)

_NULL = Raw(b"null")
_EMPTY_STRING = Raw(b'""')
_REDACTED = Raw(_encode(REDACTED))
_REDACTED_LIST = Raw(_encode([REDACTED]))
_QUOTE, _OPEN_BRACE, _OPEN_BRACKET = 0x22, 0x7B, 0x5B

Path = tuple[str, ...]


def _first_byte(raw: Raw) -> int:
    return memoryview(raw)[0] if len(raw) else -1


class LineBuilder:
    """`build(piece)`: the record's Logz.io line, or None (take the general path)."""

    def __init__(self, normalizer: Normalizer, log_type: str, max_line_bytes: int) -> None:
        plan = normalizer.redact_plan
        # Decode each container on a redaction path once, parents before children.
        containers = {container for container, _ in plan if container}
        decode_order: set[Path] = set()
        for container in containers:
            decode_order.update(container[:n] for n in range(1, len(container) + 1))
        self._decode_order = sorted(decode_order, key=len)
        self._encode_order = sorted(decode_order, key=len, reverse=True)
        self._plan = plan
        self._type = Raw(_encode(log_type))
        self._max_line = max_line_bytes

    def build(self, piece: Any) -> bytes | None:
        record = bytes(piece)
        if b"\n" in record or b"\r" in record:
            return None
        if not record.isascii():
            try:  # msgspec does not check UTF-8 inside the values it keeps as Raw
                record.decode("utf-8")
            except UnicodeDecodeError:
                return None
        try:
            return self._line(_decode_object(record))
        except _DecodeErrors:
            return None

    __call__ = build

    def _line(self, top: dict[str, Raw]) -> bytes | None:
        # The Service Connector's {"datetime": ..., "logContent": {...}} wrapper.
        wrapper_time = None
        inner = top.get("logContent")
        if inner is not None and _first_byte(inner) == _OPEN_BRACE and "datetime" in top:
            wrapper_time = top["datetime"]
            top = _decode_object(inner)
        event_time: Raw | None = None
        for candidate in (top.get("time"), top.get("eventTime"), wrapper_time):
            kind = self._time_kind(candidate)
            if kind == "number":
                return None  # epoch values are converted by the general path
            if kind == "string":
                event_time = candidate
                break
        if self._plan:
            self._redact(top)
        original_type = top.get("type")
        if original_type is not None and original_type != _NULL and "eventType" not in top:
            top["eventType"] = original_type
        top["type"] = self._type
        if event_time is not None:
            top["@timestamp"] = event_time
        line = _encode(top)
        return line if len(line) <= self._max_line else None

    @staticmethod
    def _time_kind(value: Raw | None) -> str | None:
        """Mirrors normalize._time_value: a non-empty string is used as it is; a number
        needs conversion; anything else is no time."""
        if value is None:
            return None
        first = _first_byte(value)
        if first == _QUOTE:
            return None if value == _EMPTY_STRING else "string"
        if first == 0x2D or 0x30 <= first <= 0x39:  # `-` or a digit
            return "number"
        return None

    def _redact(self, top: dict[str, Raw]) -> None:
        """Mirrors normalize.redact, on the containers decoded as {key: Raw}."""
        nodes: dict[Path, dict[str, Raw]] = {(): top}
        for path in self._decode_order:
            parent = nodes.get(path[:-1])
            value = None if parent is None else parent.get(path[-1])
            if value is not None and _first_byte(value) == _OPEN_BRACE:
                nodes[path] = _decode_object(value)
        changed: set[Path] = set()
        for container, names in self._plan:
            node = nodes.get(container)
            if node is None:
                continue  # not an object on this record: nothing to redact there
            for key, value in node.items():
                if value != _NULL and key.lower() in names:
                    first = _first_byte(value)
                    node[key] = _REDACTED_LIST if first == _OPEN_BRACKET else _REDACTED
                    changed.update(container[:n] for n in range(len(container) + 1))
        for path in self._encode_order:
            if path in changed:
                nodes[path[:-1]][path[-1]] = Raw(_encode(nodes[path]))


def for_logzio(normalizer: Normalizer, log_type: str, max_line_bytes: int) -> LineBuilderFn | None:
    """A line builder matching `normalizer` + the Logz.io line format, or None when the
    normalizer does something the fast path does not mirror (the action filter)."""
    if normalizer.options.actions is not None:
        return None
    return LineBuilder(normalizer, log_type, max_line_bytes).build
