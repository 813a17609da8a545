"""split_records: every layout OCI and others produce comes back record for record."""

from __future__ import annotations

import random
from typing import Any

import orjson
from auditgen import LAYOUTS, records, render
from auditship.model import Reject
from auditship.repair import split_records
from hypothesis import given, settings
from hypothesis import strategies as st

# JSON values, with strings biased towards the characters that confuse naive splitters.
_tricky_text = st.text(alphabet=st.sampled_from(list('{}[],:"\\ \n\tab\u00e9\u2603')), max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _tricky_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky_text, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(_tricky_text, json_values, max_size=5)


def split(data: bytes, chunk: int) -> tuple[list[dict[str, Any]], list[Reject]]:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    recs: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for item in split_records(chunks, "obj"):
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            recs.append(item[1])
    return recs, rejects


def layout(objs: list[dict[str, Any]], how: str, rnd: random.Random) -> bytes:
    dumps = [orjson.dumps(o) for o in objs]
    if how == "glued":
        return b"".join(dumps)
    if how == "ndjson":
        return b"".join(d + b"\n" for d in dumps)
    if how == "whitespace":
        return b"".join(d + rnd.choice([b" ", b"\n", b"\r\n", b"\t", b"\n\n  "]) for d in dumps)
    if how == "pretty":
        return b"\n".join(orjson.dumps(o, option=orjson.OPT_INDENT_2) for o in objs)
    if how == "array":
        return b"[" + b",\n ".join(dumps) + b"]\n"
    raise AssertionError(how)


@settings(max_examples=300)
@given(
    objs=st.lists(json_objects, max_size=12),
    how=st.sampled_from(["glued", "ndjson", "whitespace", "pretty", "array"]),
    chunk=st.integers(min_value=1, max_value=300),
    seed=st.integers(0, 1000),
)
def test_any_objects_in_any_layout_come_back_exactly(
    objs: list[dict[str, Any]], how: str, chunk: int, seed: int
) -> None:
    data = layout(objs, how, random.Random(seed))
    recs, rejects = split(data, chunk)
    assert rejects == []
    assert recs == objs


@settings(max_examples=100)
@given(
    objs=st.lists(json_objects, min_size=1, max_size=6),
    junk=st.sampled_from([b"garbage", b'{"broken": tru}', b"]]", b'"str"', b"123"]),
    where=st.integers(min_value=0, max_value=6),
    chunk=st.integers(min_value=1, max_value=200),
)
def test_junk_becomes_a_reject_and_every_record_survives(
    objs: list[dict[str, Any]], junk: bytes, where: int, chunk: int
) -> None:
    dumps = [orjson.dumps(o) for o in objs]
    where = min(where, len(dumps))
    data = b"\n".join([*dumps[:where], junk, *dumps[where:]]) + b"\n"
    recs, rejects = split(data, chunk)
    if junk == b"]]":  # array punctuation between records is a separator
        assert rejects == []
    else:
        assert len(rejects) == 1
        reject = rejects[0]
        assert reject.object_name == "obj"
        assert data[reject.offset : reject.offset + len(reject.raw)] == reject.raw
        assert junk in reject.raw or reject.raw in junk
        assert reject.reason
    assert recs == objs


def test_generator_layouts_round_trip() -> None:
    gen = records(seed=3, tricky_ratio=0.3)
    recs = [next(gen) for _ in range(60)]
    for how in LAYOUTS:
        data = render(recs, how, random.Random(1))
        got, rejects = split(data, 4096)
        assert rejects == [], how
        if how == "wrapped":
            assert [g["logContent"] for g in got] == recs
        else:
            assert got == recs, how


def test_offsets_point_at_each_record() -> None:
    data = b'{"a":1}{"b":"}{"}\n  {"c":[{"d":1},{"e":2}]}'
    items = list(split_records([data], "obj"))
    offsets = [item[0] for item in items if not isinstance(item, Reject)]
    assert offsets == [0, 7, 20]


def test_unterminated_string_rejects_only_its_own_stretch() -> None:
    data = b'{"a":1}{"b":"never closed}{"c":3}\n{"d":4}'
    recs, rejects = split(data, 5)
    assert recs == [{"a": 1}, {"c": 3}, {"d": 4}]
    assert [r.raw for r in rejects] == [b'{"b":"never closed}']
    assert "cut off" in rejects[0].reason


def test_record_cut_off_by_end_of_stream_is_rejected_with_its_bytes() -> None:
    recs, rejects = split(b'{"a":1}\n{"b":2', 3)
    assert recs == [{"a": 1}]
    assert rejects[0].raw == b'{"b":2'
    assert rejects[0].offset == 8


def test_invalid_utf8_is_rejected_not_dropped() -> None:
    recs, rejects = split(b'{"a":"\xff"}\n{"b":1}', 4)
    assert recs == [{"b": 1}]
    assert rejects[0].raw == b'{"a":"\xff"}'


def test_memory_stays_bounded_without_boundaries() -> None:
    limit = 10_000
    data = b"x" * 50_000 + b'\n{"ok":1}'
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    items = list(split_records(chunks, "obj", max_record_bytes=limit))
    rejects = [i for i in items if isinstance(i, Reject)]
    assert all(len(r.raw) <= limit + 1000 for r in rejects)
    assert sum(len(r.raw) for r in rejects) == 50_000
    assert items[-1] == (50_001, {"ok": 1})


@settings(max_examples=60)
@given(
    pairs=st.integers(17, 400),
    chunk=st.sampled_from([7, 100, 4096, 1 << 20]),
    tail=st.sampled_from(["complete", "cut", "invalid"]),
)
def test_records_with_many_boundaries_inside_strings(pairs: int, chunk: int, tail: str) -> None:
    # More `}{` inside one string than the splitter re-parses before scanning the record once.
    big = {"msg": "x}{y" * pairs, "n": pairs}
    data = orjson.dumps({"a": 1}) + orjson.dumps(big) + b"\n"
    if tail == "complete":
        data += orjson.dumps({"b": "}{" * pairs})
    elif tail == "cut":
        data += orjson.dumps({"b": "}{" * pairs})[:-3]
    else:
        data += b'{"b": "' + b"}{" * pairs + b'", oops}\n{"c": 3}'
    recs, rejects = split(data, chunk)
    assert recs[:2] == [{"a": 1}, big]
    if tail == "complete":
        assert recs[2:] == [{"b": "}{" * pairs}]
        assert rejects == []
    elif tail == "cut":
        # the stream ends inside the record: all of it is one reject, no `{}` made up
        assert recs[2:] == []
        assert len(rejects) == 1
        assert "cut off" in rejects[0].reason
        assert data.endswith(rejects[0].raw)
    else:
        assert recs[-1] == {"c": 3}
        assert rejects
        for r in rejects:  # every rejected byte at its own offset
            assert data[r.offset : r.offset + len(r.raw)] == r.raw


def test_a_cut_inside_a_string_at_the_end_makes_up_no_records() -> None:
    recs, rejects = split(b'{"a":1}\n{"msg":"x}{}{}{} and the stream ends', 5)
    assert recs == [{"a": 1}]
    assert [r.raw for r in rejects] == [b'{"msg":"x}{}{}{} and the stream ends']
