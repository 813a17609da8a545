"""fastline: the msgspec fast path gives what the general path gives, or steps aside.

The general path (orjson -> Normalizer -> LogzioSink.prepare) is the reference: for any
record, in any JSON spelling, a line from the fast path must parse to the same value with
the same top-level key order, and the fast path must actually be taken for the records
the Service Connector writes (otherwise these tests would pass by always stepping aside).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import orjson
import pytest
from auditgen import records
from auditship.fastline import for_logzio
from auditship.model import Record
from auditship.normalize import REDACTED, NormalizeOptions, Normalizer
from auditship.repair import RecordSplitter
from auditship.sinks.logzio import LogzioSink
from hypothesis import given, settings
from hypothesis import strategies as st

SINK = LogzioSink("http://unused.invalid", "", log_type="oci-audit")


def general_line(raw: bytes, normalizer: Normalizer) -> bytes | None:
    """The reference: what the pipeline produces without the fast path."""
    normalized = normalizer(orjson.loads(raw))
    if normalized is None:
        return None
    return SINK.prepare(Record(0, 0, normalized[0], normalized[1]), None).payload  # type: ignore[arg-type]


def assert_same(fast: bytes, reference: bytes) -> None:
    assert b"\n" not in fast
    got, want = orjson.loads(fast), orjson.loads(reference)
    assert got == want
    assert list(got) == list(want)  # top-level key order too


def builder(normalizer: Normalizer | None = None, max_line: int = 500_000) -> Any:
    built = for_logzio(normalizer or Normalizer(), "oci-audit", max_line)
    assert built is not None
    return built


def test_connector_records_take_the_fast_path_and_match() -> None:
    build = builder()
    for rec in list(itertools.islice(records(seed=11), 300)):
        raw = orjson.dumps(rec)
        line = build(raw)
        assert line is not None
        assert_same(line, general_line(raw, Normalizer()))  # type: ignore[arg-type]
        out = orjson.loads(line)
        assert out["data"]["identity"]["credentials"] == REDACTED
        assert out["data"]["request"]["headers"]["Authorization"] == [REDACTED]
        assert out["type"] == "oci-audit"
        assert out["eventType"] == rec["type"]
        assert out["@timestamp"] == rec["time"]
        assert rec["data"]["request"]["headers"]["Authorization"][0].encode() not in line


def test_values_are_kept_byte_for_byte() -> None:
    raw = b'{"time":"2026-01-01T00:00:00Z","n":1.50,"big":123456789012345678901234567890,"s":"\\u00e9\\/"}'
    line = builder()(raw)
    assert line is not None
    assert b'"n":1.50' in line and b"123456789012345678901234567890" in line
    assert b'"s":"\\u00e9\\/"' in line


@pytest.mark.parametrize(
    "raw",
    [
        b'{"time":"t",\n"type":"x"}',  # spread over lines: NDJSON needs one line
        b'{"time":1760956873812,"type":"x"}',  # epoch time: converted by the general path
        b'{"time":"t","a":"\xff"}',  # not UTF-8
        b'{"time":"t","a":"\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8 either
        b'{"time":"t","a":[1,,2]}',  # not JSON
        b'{"time":"t","a":"cut',  # cut off
        b"[1,2]",  # not an object
    ],
)
def test_steps_aside(raw: bytes) -> None:
    assert builder()(raw) is None


def test_steps_aside_for_a_line_over_the_limit() -> None:
    raw = orjson.dumps({"time": "t", "pad": "x" * 1000})
    assert builder(max_line=500)(raw) is None
    assert builder(max_line=5000)(raw) is not None


def test_no_builder_with_an_action_filter() -> None:
    normalizer = Normalizer(NormalizeOptions(actions=frozenset({"POST"})))
    assert for_logzio(normalizer, "oci-audit", 500_000) is None


# -- property: any record, any spelling -------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
_header_names = st.sampled_from(
    ["Authorization", "AUTHORIZATION", "opc-principal", "Cookie", "Content-Type", "x-auth-token"]
)
_headers = st.dictionaries(_header_names, _json, max_size=4) | _json
_time = st.none() | st.sampled_from(["", "2026-11-22T07:00:00.000Z"]) | _json
_record = st.fixed_dictionaries(
    {},
    optional={
        "time": _time,
        "eventTime": _time,
        "type": _json,
        "eventType": _json,
        "@timestamp": _json,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "identity": st.fixed_dictionaries({}, optional={"credentials": _json}) | _json,
                "request": st.fixed_dictionaries(
                    {}, optional={"headers": _headers, "action": _json}
                )
                | _json,
                "response": st.fixed_dictionaries({}, optional={"headers": _headers}),
                "other": _json,
            },
        )
        | _json,
        "extra": _json,
    },
)


def _spellings(rec: dict[str, Any]) -> list[bytes]:
    return [
        orjson.dumps(rec),
        json.dumps(rec).encode(),  # spaces after separators, \\u escapes
        json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode(),
        json.dumps(rec, indent=1).encode(),  # spread over lines
    ]


def _wrapped(rec: dict[str, Any], when: Any) -> dict[str, Any]:
    return {"datetime": when, "logContent": rec}


@settings(max_examples=300)
@given(_record, st.booleans(), _time)
def test_fast_line_matches_the_general_path(rec: dict[str, Any], wrap: bool, when: Any) -> None:
    if wrap:
        rec = _wrapped(rec, when)
    build = builder()
    for raw in _spellings(rec):
        line = build(raw)
        if line is not None:
            assert_same(line, general_line(raw, Normalizer()))  # type: ignore[arg-type]


@settings(max_examples=100)
@given(_record, st.sampled_from([(), ("data.request.headers.cookie", "x"), ("a.b.c", "a.b")]))
def test_fast_line_matches_with_other_redaction_lists(
    rec: dict[str, Any], paths: tuple[str, ...]
) -> None:
    normalizer = Normalizer(NormalizeOptions(redact_paths=paths))
    build = builder(normalizer)
    raw = orjson.dumps(rec)
    line = build(raw)
    if line is not None:
        assert_same(line, general_line(raw, Normalizer(NormalizeOptions(redact_paths=paths))))


def test_splitter_uses_the_builder_and_falls_back_per_piece() -> None:
    """Glued records with `}{` inside strings and a broken one: the fast path takes the
    good pieces, the general path the rest; offsets and order are as without it."""
    recs = list(itertools.islice(records(seed=3), 20))
    recs[4]["data"]["message"] = 'bad input: "}{" found'
    parts = [orjson.dumps(r) for r in recs]
    parts[9] = parts[9][:-5] + b"!!!}"
    stream = b"".join(parts)

    def split(splitter: RecordSplitter) -> list[Any]:
        return list(splitter.feed(stream)) + list(splitter.finish())

    plain = split(RecordSplitter("o"))
    fast = split(RecordSplitter("o", fast=builder()))
    assert [type(x).__name__ for x in fast] == [type(x).__name__ for x in plain]
    lines = [x for x in fast if isinstance(x, tuple)]
    assert all(isinstance(body, bytes) for _, body in lines)
    assert [off for off, _ in lines] == [x[0] for x in plain if isinstance(x, tuple)]
    assert len(lines) == 19
