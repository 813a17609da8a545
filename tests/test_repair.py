"""split_records: every layout OCI and others produce comes back record for record."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
from auditgen import LAYOUTS, records, render
from auditship.model import Reject
from auditship.transforms.repair import RecordSplitter, split_records
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
    # one stretch of junk is one reject, whatever the chunks, covering all of it
    [junk] = [i for i in items if isinstance(i, Reject)]
    assert (junk.offset, junk.covered, junk.raw) == (0, 50_000, b"x" * 50_000)
    assert items[-1] == (50_001, {"ok": 1})


def test_a_long_stretch_of_junk_is_one_letter_of_at_most_a_mebibyte() -> None:
    from auditship.transforms.repair import MAX_REJECT_RAW_BYTES

    # GIVEN 20 MiB of zero bytes between two records (damage found by an attacker's test:
    # it became ~385 MB of dead letters)
    junk = 20 * 1024 * 1024
    data = b'{"a":1}' + b"\x00" * junk + b'\n{"b":2}\n'
    chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    items = list(split_records(chunks, "obj", max_record_bytes=8 * 1024 * 1024))
    # THEN the record before it ships, the stretch is one reject keeping its first MiB and
    # naming its offsets and length, and the record after it ships
    assert items[0] == (0, {"a": 1})
    [letter] = [i for i in items if isinstance(i, Reject)]
    assert (letter.offset, letter.covered) == (7, junk)
    assert len(letter.raw) == MAX_REJECT_RAW_BYTES
    assert f"{junk} bytes, decompressed offsets 7..{junk + 7}" in letter.reason
    assert items[-1] == (junk + 8, {"b": 2})


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


def test_after_a_syntax_error_no_empty_record_is_made_up_from_its_strings() -> None:
    """`{"a":1 "m":"x={}{}"}` lacks a comma; splitting resumes at the `}{` inside its
    string, where `{}` would parse. It is dead-lettered instead, with its bytes, and the
    record after it ships."""
    data = b'{"a":1 "m":"x={}{}"}{"b":2}'
    for chunk in (1, 3, 64):
        recs, rejects = split(data, chunk)
        assert recs == [{"b": 2}]
        assert b"".join(r.raw for r in rejects) + b'{"b":2}' == data
        assert any("empty JSON object" in r.reason for r in rejects)


def test_empty_records_are_records_on_firm_ground() -> None:
    # after a line break, or with no error before them, `{}` is a record like any other
    assert split(b'{}{"a":1}{}\n', 4) == ([{}, {"a": 1}, {}], [])
    recs, rejects = split(b'oops\n{}{"a":1}', 4)
    assert recs == [{}, {"a": 1}]
    assert [r.raw for r in rejects] == [b"oops"]


@settings(max_examples=200)
@given(
    objs=st.lists(json_objects, min_size=1, max_size=8),
    broken=st.data(),
    chunk=st.integers(min_value=1, max_value=200),
)
def test_a_broken_line_spoils_nothing_around_it(
    objs: list[dict[str, Any]], broken: st.DataObject, chunk: int
) -> None:
    """NDJSON with one line changed (a byte dropped; it may still be valid JSON). Records
    before it come back exactly, every reject holds exactly the bytes at its offset, and
    past that line and the last reject the records are exactly the last original ones.
    (Between, a broken line can swallow the lines after it up to the next `}`...`{` into
    its rejects, and with the start of a record gone a nested object can look like a
    record: see `RecordSplitter._doubtful`.)"""
    lines = [orjson.dumps(o) for o in objs]
    k = broken.draw(st.integers(0, len(lines) - 1))
    at = broken.draw(st.integers(0, len(lines[k]) - 1))
    lines[k] = lines[k][:at] + lines[k][at + 1 :]
    data = b"\n".join(lines) + b"\n"
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    start = sum(len(x) + 1 for x in lines[:k])
    items = list(split_records(chunks, "obj"))
    rejects = [x for x in items if isinstance(x, Reject)]
    records = [x for x in items if not isinstance(x, Reject)]
    assert [rec for offset, rec in records if offset < start] == objs[:k]
    for r in rejects:
        assert r.offset >= start
        assert data[r.offset : r.offset + len(r.raw)] == r.raw
    last = max([start + len(lines[k])] + [r.offset + len(r.raw) for r in rejects])
    past = [rec for offset, rec in records if offset >= last]
    assert past == objs[len(objs) - len(past) :]


class _CountingBytes(bytes):
    """The splitter's buffer, counting the bytes every slice of it copies."""

    copied = 0

    def __getitem__(self, key: Any) -> Any:
        got = super().__getitem__(key)
        if isinstance(key, slice):
            _CountingBytes.copied += len(got)
        return got


def test_many_braces_inside_strings_cost_linear_work() -> None:
    """Found by an attacker's test: 20 `}{` inside the strings of each record made the
    Python splitter copy the rest of the window for every record (~3 MB/s)."""
    record = {"a": "}{" * 20, "b": "x" * 200, "c": "}\n{" * 3}
    line = json.dumps(record).encode()
    data = _CountingBytes(b"".join(line + b"\n" for _ in range(2000)))
    _CountingBytes.copied = 0
    items = list(RecordSplitter("obj").split_all(data))
    assert items == [(i * (len(line) + 1), record) for i in range(2000)]
    assert _CountingBytes.copied < 4 * len(data)
