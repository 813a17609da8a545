"""Which format an object holds, from its first decompressed bytes. Pure, no I/O.

- `#` first (after blank lines): a Fusion Middleware bus-stop file (`#Fields:`,
  `#Remark Values:`, or another `#` directive).
- `{"results":[`: a SQLcl JSON export.
- A first line of two or more Oracle column names, comma-separated, quoted or not
  (`"ID#","OS_USERNAME",...`): a CSV export.
- Anything else: OCI audit JSON (the connector's objects, NDJSON, arrays), whose reader
  rejects, with reasons, whatever is not JSON. So an object that is none of these formats
  is never silently read as one.

Only the first line is looked at, and at most `SNIFF_BYTES`: a decision never waits for
more than that.
"""

from __future__ import annotations

from enum import StrEnum

from auditship.formats.csv_export import header_of
from auditship.formats.sqlcl_json import START

SNIFF_BYTES = 64 * 1024
_START_BYTES = 64


class Format(StrEnum):
    AUDIT_JSON = "audit-json"
    BUSSTOP = "fmw-busstop"
    CSV_EXPORT = "db-export-csv"
    SQLCL_JSON = "db-export-json"


def detect(head: bytes, final: bool) -> Format | None:
    """The format of a stream starting with `head`, or None when more bytes are needed
    to tell (never once `final` is set or `head` holds SNIFF_BYTES)."""
    sure = final or len(head) >= SNIFF_BYTES
    text = head.lstrip(b" \t\r\n")
    if not text:
        return Format.AUDIT_JSON if sure else None
    first = text[:1]
    if first == b"#":
        return Format.BUSSTOP
    if first == b"{":
        if START.match(text):
            return Format.SQLCL_JSON
        if len(text) < _START_BYTES and not sure:
            return None  # too short to rule out {"results":[ (with spaces)
        return Format.AUDIT_JSON
    if first == b"[":
        return Format.AUDIT_JSON
    end = text.find(b"\n")
    if end < 0 and not sure:
        return None
    line = text if end < 0 else text[:end]
    return Format.CSV_EXPORT if header_of(line[:SNIFF_BYTES]) is not None else Format.AUDIT_JSON
