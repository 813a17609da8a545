"""The readers of Oracle audit files, without I/O: bus-stop tokenizer and reader, CSV and
SQLcl JSON exports, timestamps, ids, the Database Vault marker and format detection."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

import pytest
from auditship.formats.busstop import BusStopReader, quote, tokenize
from auditship.formats.csv_export import CsvExportReader
from auditship.formats.detect import Format, detect
from auditship.formats.export_rows import ExportRows
from auditship.formats.lines import LineSplitter
from auditship.formats.sqlcl_json import SqlclJsonReader
from auditship.formats.timestamps import busstop_time, oracle_time, zone_of
from auditship.model import Reject, RejectKind
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

SEED = ROOT.parent / "shared" / "seeds" / "004_9218a3a5808802fd.txt"
MAX = 64 * 1024


def seed_sample() -> bytes:
    """The OPSS bus-stop sample of seed 004, as the seed prints it."""
    lines = SEED.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#Fields:"))
    return ("\n".join(lines[start : start + 3]) + "\n").encode()


def chunked(data: bytes, rnd: random.Random, pieces: int = 5) -> list[bytes]:
    if len(data) < 2:
        return [data]
    cuts = sorted(rnd.sample(range(1, len(data)), min(pieces, len(data) - 1)))
    return [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def read(reader: Any, chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out.extend(reader.feed(chunk))
    out.extend(reader.finish())
    return out


def busstop(data: bytes, chunks: list[bytes] | None = None) -> list[Any]:
    return read(BusStopReader("fmw/x.log", MAX), chunks or [data])


def csv_rows(data: bytes, chunks: list[bytes] | None = None, folder: str = "prod1") -> list[Any]:
    return read(CsvExportReader("x.csv", ExportRows(folder), MAX), chunks or [data])


def json_rows(data: bytes, chunks: list[bytes] | None = None, folder: str = "prod1") -> list[Any]:
    return read(SqlclJsonReader("x.json", ExportRows(folder), MAX), chunks or [data])


def records(found: list[Any]) -> list[dict[str, Any]]:
    return [f[1] for f in found if type(f) is not Reject]


def rejects(found: list[Any]) -> list[Reject]:
    return [f for f in found if type(f) is Reject]


# -- bus-stop files ---------------------------------------------------------------------
def test_the_seed_sample_line_field_by_field() -> None:
    (offset, record), *rest = busstop(seed_sample())
    assert rest == []
    assert offset == seed_sample().index(b"2008-12-08")
    assert record == {
        "Date": "2008-12-08",
        "Time": "10:46:05.492",
        "EventType": "CheckAuthorization",
        "EventStatus": "true",
        "MessageText": "Oracle Platform Security Authorization Check Permission SUCCEEDED.",
        "EventCategory": "Authorization",
        "ThreadId": "48",
        "FailureCode": "true",
        "Resource": "(oracle.security.jps.service.policystore.PolicyStoreAccessPermission "
        "context=APPLICATION,name=SimpleServlet getApplicationPolicy)",
        "CodeSource": "file:/oracle/work/middleware/oracle_common/modules/"
        "oracle.jps_11.1.1/jps-internal.jar",
        "Principals": "[]",
        "ComponentType": "JPS",
        "@timestamp": "2008-12-08T10:46:05.492Z",
    }


values = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20).filter(
        lambda s: "\n" not in s and "\r" not in s
    ),
)


@given(st.lists(values, min_size=1, max_size=12), st.sampled_from([" ", "  ", "\t", " \t "]))
def test_tokenize_reads_back_what_a_writer_quotes(row: list[str | None], sep: str) -> None:
    assert tokenize(sep.join(quote(v) for v in row)) == row


@given(st.lists(st.from_regex(r"[A-Za-z0-9_.:/()\[\]=,-]{1,12}", fullmatch=True), min_size=1))
def test_bare_tokens_stay_as_written(tokens: list[str]) -> None:
    assert tokenize(" ".join(tokens)) == [None if t == "-" else t for t in tokens]


def test_quoted_dash_is_a_value_and_escapes_are_read() -> None:
    assert tokenize('"-" - "a \\"b\\" \\\\c" "C:\\temp"') == ["-", None, 'a "b" \\c', "C:\\temp"]
    assert tokenize('"never ends') is None
    assert tokenize('"glued"text') is None


def test_headers_change_and_repeat_and_lines_that_do_not_fit_are_rejects() -> None:
    data = (
        b"#Fields:Date Time EventType MessageText\r\n"
        b'#Remark Values:ComponentType="JPS"\r\n'
        b'2026-11-30 10:00:00.000 "Login" "ok"\r\n'
        b'2026-11-30 10:00:01.000 "Login"\r\n'  # one value short: never shifted
        b"\r\n"
        b"#Fields:Date Time Initiator EventType\r\n"  # another component appended
        b'#Remark Values:ComponentType="OAM", Host="h1"\r\n'
        b'2026-11-30 10:00:02.5 alice "Logout"\r\n'
        b"#Fields:Date Time EventType MessageText\r\n"  # the first header again
        b'2026-11-30 10:00:03.000 "Login" - \r\n'
    )
    found = busstop(data)
    assert records(found) == [
        {
            "Date": "2026-11-30",
            "Time": "10:00:00.000",
            "EventType": "Login",
            "MessageText": "ok",
            "ComponentType": "JPS",
            "@timestamp": "2026-11-30T10:00:00.000Z",
        },
        {
            "Date": "2026-11-30",
            "Time": "10:00:02.5",
            "Initiator": "alice",
            "EventType": "Logout",
            "ComponentType": "OAM",
            "Host": "h1",
            "@timestamp": "2026-11-30T10:00:02.5Z",
        },
        {
            "Date": "2026-11-30",
            "Time": "10:00:03.000",
            "EventType": "Login",
            "@timestamp": "2026-11-30T10:00:03.000Z",
        },
    ]
    (bad,) = rejects(found)
    assert bad.kind is RejectKind.BAD_ROW
    assert bad.offset == data.index(b"2026-11-30 10:00:01")
    assert "line 4 " in bad.reason
    assert "3 values for the 4 fields" in bad.reason
    assert bad.raw == b'2026-11-30 10:00:01.000 "Login"'


def test_data_before_a_header_broken_quotes_and_non_utf8_are_rejects() -> None:
    data = (
        b"2026-11-30 10:00:00 x\n#Fields:Date Time A\n"
        b'2026-11-30 10:00:00 "x\n2026-11-30 10:00:00 \xff\n'
    )
    found = busstop(data)
    reasons = [r.reason for r in rejects(found)]
    assert len(found) == 3
    assert len(reasons) == 3
    assert "before any #Fields: header" in reasons[0]
    assert "quoted value does not end" in reasons[1]
    assert "not UTF-8" in reasons[2]


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_positions_do_not_depend_on_how_the_bytes_were_chunked(rnd: random.Random) -> None:
    data = seed_sample() * 3 + b"2008-12-08 10:46:05.492 short\n" + b"x" * 300 + b"\nend"
    whole = busstop(data)
    assert busstop(data, chunked(data, rnd, 8)) == whole
    split = LineSplitter(100)
    assert read(split, chunked(data, rnd, 8)) == read(LineSplitter(100), [data])


def test_an_over_long_line_is_one_reject_and_reading_goes_on() -> None:
    reader = BusStopReader("x", 64)
    data = (
        b"#Fields:Date Time A\n"
        + b"2026-11-30 10:00:00 "
        + b"y" * 500
        + b"\n2026-11-30 10:00:00 z\n"
    )
    found = read(reader, [data])
    (bad,) = rejects(found)
    assert bad.covered == 520
    assert len(bad.raw) == 64
    assert records(found)[0]["A"] == "z"


# -- CSV exports --------------------------------------------------------------------------
cells = st.one_of(
    st.just(""),
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\x00"), max_size=15
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(cells, min_size=3, max_size=3), max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.randoms(use_true_random=False),
)
def test_csv_reads_back_what_sqlplus_writes(
    rows: list[list[str]], newline: str, rnd: random.Random
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator=newline)
    writer.writerow(["ID#", "SQL_TEXT", "USERNAME"])
    writer.writerows(rows)
    data = out.getvalue().encode()
    found = csv_rows(data)
    assert csv_rows(data, chunked(data, rnd)) == found
    assert not rejects(found)
    # a row of nulls is a record too; quoted values keep their line breaks (\r\n: \n)
    want = rows
    got = records(found)
    assert len(got) == len(want)
    for row, record in zip(want, got, strict=True):
        expected = {
            k: v.replace("\r\n", "\n")
            for k, v in zip(["ID#", "SQL_TEXT", "USERNAME"], row, strict=True)
            if v
        }
        assert {k: record[k] for k in expected} == expected
        assert set(record) - set(expected) <= {"id", "@timestamp"}


def test_csv_rows_that_do_not_fit_and_a_quote_that_never_ends() -> None:
    data = b'"A","B"\n1,2\n1,2,3\n"1","x""y"\n"A","B"\n3,"open\n'
    found = csv_rows(data)
    assert records(found) == [{"A": "1", "B": "2"}, {"A": "1", "B": 'x"y'}]
    too_many, open_quote = rejects(found)
    assert "line 3" in too_many.reason
    assert "3 values for the 2 columns" in too_many.reason
    assert too_many.offset == data.index(b"1,2,3")
    assert "ends inside a quoted value" in open_quote.reason


# -- SQLcl JSON ---------------------------------------------------------------------------
def sqlcl(columns: list[str], items: list[dict[str, Any]]) -> bytes:
    """The layout SQLcl writes for SET SQLFORMAT JSON."""
    head = {"results": [{"columns": [{"name": c, "type": "VARCHAR2"} for c in columns]}]}
    text = json.dumps(head)[: -len("}]}")] + ',"items":\n[\n'
    text += "\n,".join(json.dumps({k.lower(): v for k, v in item.items()}) for item in items)
    return (text + "\n]}]}\n").encode()


json_values = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"ID#": json_values, "SQL_TEXT": json_values}), max_size=8),
    st.randoms(use_true_random=False),
)
def test_sqlcl_json_names_fields_by_column_and_keeps_types(
    items: list[dict[str, Any]], rnd: random.Random
) -> None:
    data = sqlcl(["ID#", "SQL_TEXT"], items)
    found = json_rows(data)
    assert json_rows(data, chunked(data, rnd, 10)) == found
    assert not rejects(found)
    got = records(found)
    assert len(got) == len(items)
    for item, record in zip(items, got, strict=True):
        want = {k: v for k, v in item.items() if v is not None and v != ""}
        assert {k: record[k] for k in want} == want
        assert all(type(record[k]) is type(v) for k, v in want.items())


def test_csv_and_json_exports_of_the_same_rows_give_the_same_fields() -> None:
    columns = ["ID#", "USERNAME", "ACTION_NAME", "RULE_SET_NAME", "EXTENDED_TIMESTAMP"]
    rows = [
        [
            "7",
            "SCOTT",
            "Realm Violation Audit",
            "Allow Sessions",
            "2026-11-30 08:15:02.123456 +01:00",
        ],
        ["8", "HR", "", "", "2026-11-30 08:16:02.000000 +00:00"],
    ]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([columns, *rows])
    from_csv = records(csv_rows(out.getvalue().encode()))
    from_json = records(
        json_rows(sqlcl(columns, [dict(zip(columns, r, strict=True)) for r in rows]))
    )
    assert from_csv == from_json
    first, second = from_csv
    assert first["@timestamp"] == "2026-11-30T07:15:02.123456Z"
    assert first["id"] == "prod1/7"
    assert first["databaseVault"] == {
        "action": "Realm Violation Audit",
        "ruleSet": "Allow Sessions",
    }
    assert second["databaseVault"] == {}  # a row of the DV trail, with no DV detail set
    assert "ACTION_NAME" not in second  # empty = null: left out


def test_sqlcl_json_damage_is_rejected_item_by_item() -> None:
    data = sqlcl(["A"], [{"A": 1}, {"A": 2}]).replace(b'{"a": 2}', b"[1, 2]\n, oops")
    found = json_rows(data)
    assert records(found) == [{"A": 1}]
    assert [r.reason.split(": ", 2)[-1] for r in rejects(found)] == [
        "item 2 is not a JSON object",
        "not an item of the result set",
    ]
    cut = json_rows(data[:-8])
    assert rejects(cut)[-1].reason.endswith("the file ends inside the document")


# -- rows as records ----------------------------------------------------------------------
def test_unified_trail_rows_ids_times_and_vault_marker() -> None:
    rows = ExportRows("dbaudit-folder", zone_of("+02:00"))
    dv = rows.record(
        {
            "DBID": 3236716633,
            "SESSIONID": 11,
            "ENTRY_ID": 2,
            "STATEMENT_ID": 3,
            "EVENT_TIMESTAMP": "2026-11-30 10:00:00.5",
            "AUDIT_TYPE": "Database Vault",
            "DV_ACTION_NAME": "Realm Violation Audit",
            "DV_RULE_SET_NAME": "Allow Sessions",
            "DV_RETURN_CODE": 1031,
            "ACTION_NAME": "SELECT",
        }
    )
    assert dv["id"] == "3236716633/11.2.3"
    assert dv["@timestamp"] == "2026-11-30T08:00:00.5Z"  # read in +02:00
    assert dv["databaseVault"] == {
        "action": "Realm Violation Audit",
        "ruleSet": "Allow Sessions",
        "returnCode": 1031,
    }
    plain = rows.record(
        {
            "SESSIONID": 1,
            "ENTRY_ID": 1,
            "STATEMENT_ID": 1,
            "EVENT_TIMESTAMP_UTC": "2026-11-30 10:00:00",
        }
    )
    assert plain == {
        "SESSIONID": 1,
        "ENTRY_ID": 1,
        "STATEMENT_ID": 1,
        "EVENT_TIMESTAMP_UTC": "2026-11-30 10:00:00",
        "@timestamp": "2026-11-30T10:00:00Z",  # UTC whatever the zone setting
        "id": "dbaudit-folder/1.1.1",
    }
    assert "id" not in rows.record({"USERNAME": "x"})


@pytest.mark.parametrize(
    ("text", "zone", "want"),
    [
        ("2026-11-30 08:15:02.123456 +02:00", "UTC", "2026-11-30T06:15:02.123456Z"),
        ("2026-11-30 08:15:02", "Europe/Berlin", "2026-11-30T07:15:02Z"),
        ("2026-07-30 08:15:02", "Europe/Berlin", "2026-07-30T06:15:02Z"),
        ("2026-11-30T08:15:02Z", "-05:00", "2026-11-30T08:15:02Z"),
        ("2026-11-30 08:15:02 -0530", "UTC", "2026-11-30T13:45:02Z"),
        ("2026-02-30 08:15:02", "UTC", None),
        ("30-NOV-26 08.15.02", "UTC", None),
    ],
)
def test_oracle_times(text: str, zone: str, want: str | None) -> None:
    assert oracle_time(text, zone_of(zone)) == want


def test_busstop_time_and_bad_zones() -> None:
    assert busstop_time("2008-12-08", "10:46:05.492") == "2008-12-08T10:46:05.492Z"
    assert busstop_time("-", "10:46") is None
    with pytest.raises(ValueError, match="Mars/Base"):
        zone_of("Mars/Base")


# -- detection ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "want"),
    [
        (seed_sample(), Format.BUSSTOP),
        (b'\n\n"ID#","OS_USERNAME"\n1,"x"\n', Format.CSV_EXPORT),
        (b"SESSIONID,ENTRY_ID,STATEMENT_ID\n", Format.CSV_EXPORT),
        (b'{"results":[{"columns":[]}]}', Format.SQLCL_JSON),
        (b' { "results" : [', Format.SQLCL_JSON),
        (b'{"data":{"eventName":"x"},"time":"2026-11-30T00:00:00Z"}\n', Format.AUDIT_JSON),
        (b'[{"data":1}]', Format.AUDIT_JSON),
        (b"hello world\n", Format.AUDIT_JSON),  # rejected as not JSON, never read as CSV
        (b"a,b c\n", Format.AUDIT_JSON),
        (b"", Format.AUDIT_JSON),
    ],
)
def test_formats_are_recognised_by_content(head: bytes, want: Format) -> None:
    assert detect(head, final=True) is want


def test_detection_waits_for_the_first_line_only() -> None:
    assert detect(b'"ID#","OS_USER', final=False) is None
    assert detect(b'{"res', final=False) is None
    assert detect(b"#", final=False) is Format.BUSSTOP
    record = b'{"data": {"a": 1}, "time": "2026-11-30T00:00:00Z", "x": 1, "y": 2}'
    assert detect(record, final=False) is Format.AUDIT_JSON


@given(st.datetimes(), st.integers(0, 9))
def test_the_busstop_time_shortcut_agrees_with_the_general_reader(moment: Any, digits: int) -> None:
    day = moment.strftime("%Y-%m-%d")
    clock = moment.strftime("%H:%M:%S") + (
        "." + f"{moment.microsecond:06}{'123'}"[:digits] if digits else ""
    )
    assert busstop_time(day, clock) == oracle_time(f"{day} {clock}")


# -- review regressions -------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 120), min_size=1, max_size=6),
    st.sampled_from(["\n,", ",\n", ","]),
    st.randoms(use_true_random=False),
)
def test_an_over_long_sqlcl_item_is_one_reject_whatever_the_chunks_and_layout(
    lengths: list[int], separator: str, rnd: random.Random
) -> None:
    """Items longer than the limit are rejected whole, the next item is never lost, and the
    outcome does not depend on where the chunks end (it did: review of 2026-12-01)."""
    items = [json.dumps({"id#": i, "x": 'a"b' * n}) for i, n in enumerate(lengths)]
    text = '{"results":[{"columns":[{"name":"ID#"},{"name":"X"}],"items":[\n'
    data = (text + separator.join(items) + "\n]}]}\n").encode()
    limit = 96

    def run(chunks: list[bytes]) -> list[Any]:
        return read(SqlclJsonReader("x.json", ExportRows("db"), limit), chunks)

    whole = run([data])
    assert run(chunked(data, rnd, 9)) == whole
    assert run([data[i : i + 7] for i in range(0, len(data), 7)]) == whole
    kept = [r["ID#"] for r in records(whole)]
    too_long = [i for i, item in enumerate(items) if len(item) > limit]
    assert kept == [i for i in range(len(items)) if i not in too_long]
    assert [r.covered for r in rejects(whole)] == [len(items[i]) for i in too_long]


def test_format_records_are_not_dropped_by_the_action_filter(tmp_path: Any) -> None:
    from auditship.formats.options import FormatOptions
    from auditship.formats.stage import SniffingStage
    from auditship.model import ObjectRef
    from auditship.sinks.stdout import StdoutSink
    from auditship.transforms.normalize import NormalizeOptions, Normalizer
    from auditship.transforms.prepare import RECORD, InlineStage

    obj = ObjectRef("fmw/x.log")
    normalizer = Normalizer(NormalizeOptions(actions=frozenset({"POST"})))
    sink = StdoutSink(io.BytesIO())
    json_stage = InlineStage(obj, normalizer, sink, MAX)
    stage = SniffingStage(json_stage, obj, normalizer, sink, FormatOptions(), MAX)
    windows = [*stage.feed(b"#Fields:Date Time A\n2024-01-02 10:00:00.123 x\n"), *stage.finish()]
    assert [k for w in windows for k in w.kinds] == [RECORD]


def test_a_damaged_first_gzip_member_does_not_decide_the_format() -> None:
    from auditship.formats.options import FormatOptions
    from auditship.formats.stage import SniffingStage
    from auditship.model import ObjectRef
    from auditship.sinks.stdout import StdoutSink
    from auditship.transforms.normalize import Normalizer
    from auditship.transforms.prepare import InlineStage

    obj, normalizer, sink = ObjectRef("x"), Normalizer(), StdoutSink(io.BytesIO())
    stage = SniffingStage(InlineStage(obj, normalizer, sink, MAX), obj, normalizer, sink,
                          FormatOptions(), MAX)  # fmt: skip
    assert list(stage.finish()) == []  # a decode fault before any byte: nothing decided
    assert stage.format is None
    list(stage.feed(b"#Fields:Date Time A\n"))
    assert stage.format is Format.BUSSTOP


@pytest.mark.parametrize(
    "value", ["0001-01-01 00:00:00 +01:00", "9999-12-31 23:59:59 -05:00", "2024-W01-1 10:00:00"]
)
def test_times_out_of_range_are_no_time_not_a_failure(value: str) -> None:
    assert oracle_time(value) is None
    day = value.split()[0]
    assert busstop_time(day, "10:00:00") == (None if "W" in day else f"{day}T10:00:00Z")


def test_csv_values_longer_than_the_csv_modules_default_limit() -> None:
    sql = "select " + "x, " * 60_000 + "1 from dual"
    data = f'"ID#","SQL_TEXT"\n1,"{sql}"\n'.encode()
    (record,) = records(read(CsvExportReader("x.csv", ExportRows("db"), 1 << 20), [data]))
    assert record["SQL_TEXT"] == sql
