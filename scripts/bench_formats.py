#!/usr/bin/env python3
"""Benchmark the readers of Oracle audit files (issue 13): a Fusion Middleware bus-stop file,
a CSV export of DVSYS.AUDIT_TRAIL$ and a SQLcl JSON export of UNIFIED_AUDIT_TRAIL rows,
generated here, each shipped by the operator command as shipped:

    python scripts/bench_formats.py [--mb 256] [--quick] [--json results.json]

Each file is `--mb` MB uncompressed (plain: the readers, not gzip, are measured; a gzip
object adds the decompression measured by scripts/bench.py). Every run is `python
scripts/ship.py FILE --to stdout --state-dir <fresh>` in a process of its own, stdout
discarded, measured by `bench.run_measured` (wall from Popen to wait4: interpreter start
and imports included; the child's own peak RSS and CPU; other processes' CPU meanwhile).
The run checks the summary: every record shipped, none rejected.

Memory must not grow with the file: the readers hold one line, row or item and one
input chunk; compare the peak RSS of `--mb 64` and `--mb 512`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import REPO, Measured, other_work, run_measured

MB = 1024 * 1024
FIELDS = (
    "#Fields:Date Time Initiator EventType EventStatus MessageText HomeInstance ECID RID "
    "ContextFields SessionId TargetComponentType ApplicationName EventCategory ThreadId "
    "InitiatorDN TargetDN FailureCode RemoteIP Target Resource Roles CodeSource InitiatorGUID "
    "Principals PermissionAction PermissionClass mapName key\n"
)
TRAIL_COLUMNS = [
    "ID#", "OS_USERNAME", "USERNAME", "USERHOST", "TERMINAL", "TIMESTAMP", "OWNER", "OBJ_NAME",
    "ACTION", "ACTION_NAME", "ACTION_OBJECT_ID", "ACTION_OBJECT_NAME", "ACTION_COMMAND",
    "RULE_SET_ID", "RULE_SET_NAME", "RETURNCODE", "SESSIONID", "ENTRYID", "STATEMENTID",
    "EXTENDED_TIMESTAMP", "COMMENT_TEXT",
]  # fmt: skip
UNIFIED_COLUMNS = [
    "SESSIONID", "ENTRY_ID", "STATEMENT_ID", "EVENT_TIMESTAMP_UTC", "DBUSERNAME", "USERHOST",
    "ACTION_NAME", "OBJECT_SCHEMA", "OBJECT_NAME", "RETURN_CODE", "UNIFIED_AUDIT_POLICIES",
    "DV_ACTION_NAME", "DV_RULE_SET_NAME", "DV_RETURN_CODE", "SQL_TEXT",
]  # fmt: skip


def busstop_lines() -> Iterator[str]:
    yield FIELDS
    yield '#Remark Values:ComponentType="JPS"\n'
    i = 0
    while True:
        s = i % 86400
        yield (
            f"2026-11-{1 + i // 86400 % 28:02}  {s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}."
            f'{i % 1000:03} user{i % 97} "CheckAuthorization" true "Oracle Platform Security '
            f'Authorization Check Permission SUCCEEDED." - - - - - - - "Authorization" "{i % 64}"'
            ' - - "true" - - "(oracle.security.jps.service.policystore.PolicyStoreAccessPermission'
            ' context=APPLICATION,name=SimpleServlet getApplicationPolicy)" - "file:/oracle/work/'
            'middleware/oracle_common/modules/oracle.jps_11.1.1/jps-internal.jar" - "[]" - - - -\n'
        )
        i += 1


def trail_rows() -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writerow(TRAIL_COLUMNS)
    i = 0
    while True:
        s = i % 86400
        stamp = f"2026-11-30 {s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}"
        writer.writerow([
            i, "oracle", "SCOTT", "app01.example.com", "pts/1", stamp, "DVSYS", "REALM$", 10004,
            "Realm Violation Audit", 5000 + i % 7, "HR Realm", "SELECT", 3, "Allow Sessions",
            1031, 400000 + i // 10, i % 10, 1, f"{stamp}.{i % 1000000:06} +01:00",
            "Realm Violation Audit by \"SCOTT\",\nline two" if i % 5 == 0 else "",
        ])  # fmt: skip
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        i += 1


def unified_items() -> Iterator[str]:
    columns = [{"name": c, "type": "VARCHAR2"} for c in UNIFIED_COLUMNS]
    yield '{"results":[{"columns":' + json.dumps(columns) + ',"items":\n[\n'
    i = 0
    while True:
        s = i % 86400
        item = {
            "sessionid": 400000 + i // 10, "entry_id": i % 10, "statement_id": 1,
            "event_timestamp_utc": f"2026-11-30 {s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}.5",
            "dbusername": "SCOTT", "userhost": "app01.example.com", "action_name": "SELECT",
            "object_schema": "HR", "object_name": "EMPLOYEES", "return_code": 1031 * (i % 2),
            "unified_audit_policies": "ORA_DV_AUDPOL" if i % 3 == 0 else "ORA_LOGON_FAILURES",
            "dv_action_name": "Realm Violation Audit" if i % 3 == 0 else None,
            "dv_rule_set_name": "Allow Sessions" if i % 3 == 0 else None,
            "dv_return_code": 1031 if i % 3 == 0 else None,
            "sql_text": "select * from hr.employees where employee_id = :1",
        }  # fmt: skip
        yield ("," if i else "") + json.dumps(item) + "\n"
        i += 1


def write(
    path: Path, lines: Callable[[], Iterator[str]], size: int, headers: int, tail: str = ""
) -> int:
    """Write `lines` until `size` bytes; returns the number of records written (pieces
    minus the `headers` pieces that are not records)."""
    written = records = 0
    with path.open("w", encoding="utf-8") as f:
        for n, line in enumerate(lines()):
            f.write(line)
            written += len(line.encode())
            records = n + 1 - headers
            if written >= size:
                break
        f.write(tail)
    return records


def run(path: Path, state: Path) -> tuple[Measured, dict[str, Any]]:
    cmd = [sys.executable, str(REPO / "scripts" / "ship.py"), str(path), "--to", "stdout"]
    m = run_measured([*cmd, "--state-dir", str(state)], timeout=3600)
    lines = [line for line in m.stderr.splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    return m, summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mb", type=int, nargs="+", default=[256], help="file sizes, MB")
    p.add_argument("--quick", action="store_true", help="16 MB files")
    p.add_argument("--json", help="write the results here too")
    args = p.parse_args()
    sizes = [16] if args.quick else args.mb
    results: list[dict[str, Any]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-formats-") as tmp:
        root = Path(tmp)
        for mb in sizes:
            files = {
                # name: (file, its pieces, pieces that are headers, what ends the file)
                "bus-stop": (root / "JPS" / "audit.log", busstop_lines, 2, ""),
                "csv AUDIT_TRAIL$": (root / "prod1" / "dv_trail.csv", trail_rows, 0, ""),
                "sqlcl json UNIFIED": (root / "prod1" / "unified.json", unified_items, 1, "]}]}\n"),
            }
            for name, (path, lines, headers, tail) in files.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                records = write(path, lines, mb * MB, headers, tail)
                m, summary = run(path, root / f"state-{name}-{mb}".replace(" ", "_"))
                ok = (
                    m.returncode == 0
                    and summary.get("shipped") == records
                    and summary.get("rejected") == 0
                )
                failed |= not ok
                size = path.stat().st_size
                row = {
                    "format": name, "mb": round(size / MB, 1), "records": records,
                    "wall_s": round(m.wall_s, 2), "mb_per_s": round(size / MB / m.wall_s, 1),
                    "records_per_s": round(records / m.wall_s), "rss_mb": round(m.rss_mb, 1),
                    "cpu_s": round(m.cpu_s, 2), "other_cpu_s": round(other_work(m) or 0.0, 1),
                    "ok": ok,
                }  # fmt: skip
                results.append(row)
                print(json.dumps(row), flush=True)
                if not ok:
                    print(f"FAILED: {name}: exit {m.returncode}, {summary}", file=sys.stderr)
                path.unlink()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
