"""A row of a database audit export (CSV or SQLcl JSON) as the record that is shipped.
Pure, no I/O.

- Keys are the column names as the export writes them; nulls are left out (the readers
  drop them before calling `record`).
- `@timestamp`, from the first of these columns that holds a time (`formats.timestamps`):
  `EXTENDED_TIMESTAMP` (zone-aware; `DVSYS.AUDIT_TRAIL$`), `EVENT_TIMESTAMP_UTC` (UTC,
  written without a zone), `EVENT_TIMESTAMP`, `TIMESTAMP` (both read in the configured
  zone unless they carry one: `AUDIT_TRAIL$.TIMESTAMP` is in the session's zone).
- `id`, stable across re-exports of the same row, so PutLogs entry ids repeat:
  `<database>/<ID#>` for `AUDIT_TRAIL$`, else `<database>/<SESSIONID>.<ENTRYID>.<STATEMENTID>`
  (`ENTRY_ID`/`STATEMENT_ID` in the unified trail); `<database>` is the row's `DBID` (and
  `CON_ID`) when exported, else the name of the folder the file is in (upload each
  database's exports under a folder of its own, e.g. `dbaudit/prod1/`). Rows without
  those columns get no `id` (PutLogs then derives one from the content).
- Database Vault rows get the `databaseVault` marker with the same stable names as Data
  Safe events (`transforms.database_vault`): every row of an `AUDIT_TRAIL$` export (the
  Database Vault trail, recognised by a `RULE_SET_NAME`/`RULE_SET_ID`/`FACTOR_CONTEXT`/
  `ACTION_OBJECT_NAME` column in its header), and unified-trail rows of `ORA_DV_AUDPOL*`,
  of audit type Database Vault, or with `DV_*` values.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

from auditship.formats.timestamps import oracle_time
from auditship.transforms.database_vault import MARKER, is_database_vault, vault_detail_upper

# (column, read in UTC when it has no zone)
TIME_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("EXTENDED_TIMESTAMP", False),
    ("EVENT_TIMESTAMP_UTC", True),
    ("EVENT_TIMESTAMP", False),
    ("TIMESTAMP", False),
)
TRAIL_COLUMNS = frozenset({"RULE_SET_NAME", "RULE_SET_ID", "FACTOR_CONTEXT", "ACTION_OBJECT_NAME"})


class ExportRows:
    """Turns rows of one export file into records (see the module doc)."""

    def __init__(self, folder: str, zone: tzinfo = UTC) -> None:
        self._folder = folder or "-"
        self._zone = zone
        self._trail = False  # the export is of DVSYS.AUDIT_TRAIL$: every row is DV

    def columns(self, names: list[str]) -> None:
        """The export's columns (its header): an export of `AUDIT_TRAIL$` marks every row,
        also those whose DV columns are all null."""
        self._trail = not TRAIL_COLUMNS.isdisjoint(n.upper() for n in names)

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        upper = {name.upper(): value for name, value in row.items()}
        record = dict(row)
        for column, utc in TIME_COLUMNS:
            value = upper.get(column)
            if value is not None:
                moment = oracle_time(value, UTC if utc else self._zone)
                if moment is not None:
                    record["@timestamp"] = moment
                    break
        row_id = self._row_id(upper)
        if row_id is not None:
            record["id"] = row_id
        trail = self._trail or not TRAIL_COLUMNS.isdisjoint(upper)
        policies = upper.get("UNIFIED_AUDIT_POLICIES")
        if trail or is_database_vault(policies, upper.get("AUDIT_TYPE"), upper):
            record[MARKER] = vault_detail_upper([upper], trail_columns=trail)
        return record

    def _row_id(self, upper: dict[str, Any]) -> str | None:
        database = self._folder
        if upper.get("DBID") is not None:
            database = str(upper["DBID"])
            if upper.get("CON_ID") is not None:
                database += f"-{upper['CON_ID']}"
        if upper.get("ID#") is not None:
            return f"{database}/{upper['ID#']}"
        session = upper.get("SESSIONID")
        entry = upper.get("ENTRYID", upper.get("ENTRY_ID"))
        statement = upper.get("STATEMENTID", upper.get("STATEMENT_ID"))
        if session is None or entry is None or statement is None:
            return None
        return f"{database}/{session}.{entry}.{statement}"
