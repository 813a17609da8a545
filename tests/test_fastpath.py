"""The C fast path against its reference, the Python path: for any stream, the same items
at the same offsets, the same JSON value for every record, the same rejects and refusals.

The C extension is built by `pip install -e .` (README); CI must test it, so its absence
fails here unless AUDITSHIP_ALLOW_NO_FASTPATH=1 says that is intended.
"""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any

import orjson
import pytest
from auditgen import records, render
from auditship.model import ObjectRef, compact_json
from auditship.sinks.logzio import LogzioSink
from auditship.transforms import fastpath
from auditship.transforms.normalize import NormalizeOptions, Normalizer
from auditship.transforms.prepare import OTHER, RECORD, Window, WindowCutter, prepare_window_py
from conftest import TOKEN
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

OBJ = ObjectRef("fast-object")
MAX_RECORD = 1 << 20

needs_fastpath = pytest.mark.skipif(
    not fastpath.AVAILABLE and os.environ.get("AUDITSHIP_ALLOW_NO_FASTPATH") == "1",
    reason="C fast path not built, and AUDITSHIP_ALLOW_NO_FASTPATH=1",
)


def test_the_fast_path_is_built() -> None:
    if os.environ.get("AUDITSHIP_ALLOW_NO_FASTPATH") == "1":
        pytest.skip("AUDITSHIP_ALLOW_NO_FASTPATH=1")
    assert fastpath.AVAILABLE, "auditship._fastprep is not built: run `pip install -e .`"


def sink(max_line: int = 500_000, max_batch: int = 3 * 1024 * 1024) -> LogzioSink:
    return LogzioSink(
        "http://127.0.0.1:9", TOKEN, max_line_bytes=max_line, max_batch_bytes=max_batch
    )


def python_window(data: bytes, normalizer: Normalizer, s: LogzioSink) -> Window:
    """The reference: how every stage prepares a window without the C side."""
    return prepare_window_py(OBJ, 0, data, MAX_RECORD, normalizer, s)


def fast_window(data: bytes, normalizer: Normalizer, s: LogzioSink) -> Window:
    spec = fastpath.spec_for(normalizer, s, MAX_RECORD)
    assert spec is not None
    return fastpath.prepare_window(data, 0, OBJ, normalizer, s, MAX_RECORD, spec)


def test_reals_never_make_the_c_line_pass_a_limit_the_python_line_fails() -> None:
    # yyjson writes 1e300 where orjson writes 1e+300: the C line is shorter by one byte
    # per real, so near the limit the record must go to Python, which refuses it.
    rec = {"time": "t", "type": "x", "v": [1e300, 1e300, 1e300], "pad": "p" * 902}
    got = assert_same(dump(rec), s=sink(max_line=1000))
    assert [g[0] for g in got] == ["refused"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(set(keys)) == len(keys), f"duplicate keys written: {keys}"
    return dict(pairs)


def loads_strict(line: bytes) -> Any:
    """The record's JSON value; fails on duplicate keys, which orjson would hide (it keeps
    the last) and Elasticsearch refuses."""
    value = json.loads(line, object_pairs_hook=_no_duplicates)
    if not re.search(rb"\d{19}", line):  # orjson reads integers beyond 64 bits as floats
        assert value == orjson.loads(line)
    return value


def outline(window: Window) -> list[Any]:
    """Comparable view of a window: records by JSON value, others by all they carry."""
    others = iter(window.others)
    out: list[Any] = []
    for kind, offset, payload, size in zip(
        window.kinds, window.offsets, window.payloads, window.sizes, strict=True
    ):
        if kind == RECORD:
            assert size == len(payload)
            assert b"\n" not in payload
            assert b"\r" not in payload
            # the value, and its canonical spelling: == alone takes 1 for 1.0 and 0 for -0.0
            value = loads_strict(payload)
            out.append(("record", offset, value, compact_json(value)))
        else:
            assert kind == OTHER
            item = next(others)
            assert item.offset == offset
            rej = item.reject
            if rej is None:
                out.append(("filtered", offset))
            else:  # a record the sink cannot take, or bytes that are not one
                what = "refused" if rej.stage == "sink" else "reject"
                out.append((what, offset, rej.offset, rej.kind, rej.reason, rej.raw))
    assert next(others, None) is None
    return out


def assert_same(data: bytes, normalizer: Normalizer | None = None, s: LogzioSink | None = None):
    normalizer = normalizer or Normalizer()
    s = s or sink()
    want = outline(python_window(data, normalizer, s))
    got = outline(fast_window(data, normalizer, s))
    assert got == want
    return got


# -- JSON values that stress the parser and the edits ---------------------------------
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_key = st.one_of(
    _text,
    st.sampled_from(
        ["type", "time", "eventTime", "eventType", "@timestamp", "Authorization", "COOKIE"]
    ),
)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    st.sampled_from(["}{", '"}{"', "},{", "}\n{", "\\", "2026-11-30T10:00:00.000Z", ""]),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_key, inner, max_size=5)),
    max_leaves=20,
)
_headers = st.dictionaries(
    st.sampled_from(
        [
            "Authorization",
            "authorization",
            "AUTHORIZATION",
            "opc-principal",
            "Cookie",
            "X-Auth-Token",
            "Content-Type",
            "opc-request-id",
            "Coo\u212aie",
        ]
    ),
    st.one_of(_scalar, st.lists(_text, max_size=2)),
    max_size=4,
)


@st.composite
def audit_like(draw: st.DrawFn) -> dict[str, Any]:
    """A record with the keys the fast path reads or edits, each maybe missing or odd."""
    rec: dict[str, Any] = draw(st.dictionaries(_key, _json, max_size=4))
    if draw(st.booleans()):
        rec["data"] = {
            "identity": draw(st.one_of(st.dictionaries(_key, _json, max_size=3), _scalar)),
            "request": {"headers": draw(_headers), "action": "PUT"},
            "response": {"headers": draw(_headers)},
        }
        if draw(st.booleans()) and isinstance(rec["data"]["identity"], dict):
            rec["data"]["identity"]["credentials"] = draw(_json)
    for key in ("time", "eventTime", "type", "eventType"):
        if draw(st.booleans()):
            rec[key] = draw(st.one_of(_scalar, st.just("2026-11-30T10:00:00.000Z")))
    return rec


def dump(value: Any, **kw: Any) -> bytes:
    # json, not orjson: it writes integers beyond 64 bits too
    return json.dumps(value, allow_nan=False, **kw).encode()


def lay_out(recs: list[dict[str, Any]], style: str) -> bytes:
    parts = [dump(r, separators=(",", ":"), ensure_ascii=False) for r in recs]
    if style == "glued":
        return b"".join(parts)
    if style == "ndjson":
        return b"\n".join(parts) + b"\n"
    if style == "pretty":
        return b"\n".join(dump(r, indent=2) for r in recs)  # non-ASCII as \u escapes
    return b"[" + b",\n ".join(parts) + b"]"


@needs_fastpath
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    recs=st.lists(audit_like(), max_size=8),
    style=st.sampled_from(["glued", "ndjson", "pretty", "array"]),
)
def test_records_come_out_as_the_python_path_gives_them(
    recs: list[dict[str, Any]], style: str
) -> None:
    assert_same(lay_out(recs, style))


@needs_fastpath
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    recs=st.lists(audit_like(), min_size=1, max_size=6),
    style=st.sampled_from(["glued", "ndjson"]),
    damage=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from(
                [b"", b"x", b"{", b"}", b'"', b"\n", b"{}", b"\xff", b",", b"]", b"\\u12"]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_damaged_streams_give_the_same_records_and_rejects(
    recs: list[dict[str, Any]], style: str, damage: list[tuple[float, bytes]]
) -> None:
    data = bytearray(lay_out(recs, style))
    for where, what in damage:
        at = int(where * len(data))
        data[at : at + (1 if what == b"" else 0)] = what  # b"" deletes a byte
    assert_same(bytes(data))


@needs_fastpath
@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"a":1,"a":2,"type":"t"}', "duplicate keys: orjson keeps the last"),
        (b'{"data":{"identity":{"credentials":"s"}},"data":{}}', "a duplicate hides secrets"),
        (b'{"datetime":1764496800000,"logContent":{"type":"t","x":1}}', "Logging wrapper"),
        (b'{"time":1764496800000,"type":"t"}', "epoch-ms time"),
        (b'{"time":"","eventTime":1764496800,"type":"t"}', "epoch-s eventTime"),
        (b'{"data":{"request":{"headers":{"Coo\\u212aie":["c"]}}}}', "Kelvin sign lower()"),
        (b'{"data":{"request":{"headers":{"Authori\\u007aation":["s"]}}}}', "escaped key"),
        (b'{"a":123456789012345678901234567890}', "integer beyond 64 bits"),
        (b'{"a":1e400}', "infinite number"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b'{"a":"\\u0000\\u001f\\"\\\\/\\u00e9\\ud83d\\ude00"}', "escapes"),
        (b'{"a":-0,"b":1.10,"c":1E5,"d":-1.5e-7}', "number spellings"),
        (b"{}", "empty object"),
        (b'{"a":1} trailing junk {"b":2}', "junk after a record"),
        (b'{"a":1}{"b":', "cut off"),
        (b'{"a":[' * 300 + b"]" * 300 + b"}", "deep nesting, invalid"),
        (b'{"a":' + b"[" * 253 + b"]" * 253 + b"}", "254 levels: orjson writes it"),
        (b'{"a":' + b"[" * 254 + b"]" * 254 + b"}", "255 levels: refused in Python"),
        (b'{"type":' + b"[" * 1023 + b"]" * 1023 + b"}", "1,024 levels: parsed, refused"),
        (b'{"type":' + b"[" * 5000 + b"]" * 5000 + b"}", "deeper than orjson reads"),
        (b'{"type":' + b"[" * 200_000 + b"]" * 200_000 + b"}", "deep enough to crash recursion"),
        (b'{"v":[1e300,1e21,-1e22,1e16,1.5e-300]}', "real spellings"),
        (b'{"a":[{"b":1},{"c":2}\n{"d":3}\n', "unclosed array across a safe cut"),
        (b'{"a":"x}{}{}\n{"c":2}\n', "cut inside a string before a safe cut"),
        (b'{"t":"}\n{"}{}\n{"id":1}\n', "junk around safe cuts"),
        (b'{"pad":"' + b"p" * (MAX_RECORD + 10) + b'"}\n{"a":1}\n', "over max_record"),
        (b'{"pad":"' + b"p" * (MAX_RECORD - 60) + b'"}' + b" " * 100 + b'\n{"a":1}', "spaces"),
        (b'{"type":null,"time":"t"}', "null type"),
        (b'{"type":{"x":[1]},"time":"t"}', "object type moves to eventType"),
        (b'{"eventType":"kept","type":"t","@timestamp":"old","time":"new"}', "kept keys"),
        (b"[]", "an array is not a record"),
        (b'\xef\xbb\xbf{"a":1}', "byte order mark"),
    ],
)
def test_edge_cases_match(raw: bytes, why: str) -> None:
    assert_same(raw), why


@needs_fastpath
def test_redaction_type_and_timestamp_on_an_audit_record() -> None:
    gen = records(seed=3)
    rec = next(gen)
    [item] = assert_same(orjson.dumps(rec))
    body = item[2]
    headers = body["data"]["request"]["headers"]
    assert headers["Authorization"] == ["[REDACTED]"]
    assert body["data"]["identity"]["credentials"] == "[REDACTED]"
    assert body["type"] == "oci-audit"
    assert body["eventType"] == rec["type"]
    assert body["@timestamp"] == rec["time"]


@needs_fastpath
def test_lines_over_the_limits_are_refused_as_the_python_path_refuses_them() -> None:
    recs = [{"type": "t", "time": "x", "pad": "p" * n} for n in (10, 1000, 10, 2000)]
    data = lay_out(recs, "ndjson")
    got = assert_same(data, s=sink(max_line=1000))
    assert [g[0] for g in got] == ["record", "refused", "record", "refused"]
    got = assert_same(data, s=sink(max_batch=1500))
    assert [g[0] for g in got] == ["record", "record", "record", "refused"]


@needs_fastpath
def test_custom_redaction_and_action_filter() -> None:
    data = lay_out([next(records(seed=5)) for _ in range(3)], "glued")
    custom = Normalizer(NormalizeOptions(redact_paths=("data.identity.principalName",)))
    assert_same(data, normalizer=custom)
    assert_same(data, normalizer=Normalizer(NormalizeOptions(redact_paths=())))
    # the action filter is Python's: no fast path with it
    filtering = Normalizer(NormalizeOptions(actions=frozenset({"POST"})))
    assert fastpath.spec_for(filtering, sink(), MAX_RECORD) is None
    # names the C side cannot compare byte-wise stay in Python too
    unicode_names = Normalizer(NormalizeOptions(redact_paths=("data.\u00c9t\u00e9",)))
    assert fastpath.spec_for(unicode_names, sink(), MAX_RECORD) is None
    # a name that lower-cases to ASCII ("K\u212a" -> "kk") is fine; the Kelvin key hands over
    kelvin = Normalizer(NormalizeOptions(redact_paths=("data.K\u212a",)))
    for key in ("KK", "kK", "K\u212a", "k"):
        assert_same(dump({"data": {key: "secret"}}), normalizer=kelvin)


@needs_fastpath
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    layout=st.sampled_from(["connector", "ndjson", "pretty", "array", "wrapped"]),
    window=st.sampled_from([4096, 65536]),
)
def test_windows_of_generated_objects_match(seed: int, layout: str, window: int) -> None:
    """Realistic audit records (2% with `}{` in strings) cut into windows as NativeStage
    cuts them: each window gives what the Python path gives."""
    gen = records(seed=seed, tricky_ratio=0.3)
    data = render([next(gen) for _ in range(30)], layout, random.Random(seed))
    cutter = WindowCutter(window)
    pieces = [*cutter.feed(data), *cutter.finish()]
    for _, piece in pieces:
        assert_same(bytes(piece))


@needs_fastpath
@example(size=300_000)  # a record longer than the C side's first 256 KiB region
@given(size=st.integers(1, 600_000))
@settings(max_examples=10, deadline=None)
def test_long_records_cross_the_parse_region(size: int) -> None:
    recs = [{"type": "t", "time": "x", "pad": "p" * size, "n": i} for i in range(3)]
    got = assert_same(lay_out(recs, "glued"), s=sink(max_line=2_000_000))
    assert [g[0] for g in got] == ["record"] * 3
