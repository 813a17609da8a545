"""How records of Oracle audit files are typed and timed (from `Settings`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FormatOptions:
    fmw_type: str = "oracle-fmw-audit"  # `type` of bus-stop records (the Logz.io log type)
    dbaudit_type: str = "oracle-db-audit"  # `type` of database export rows
    time_zone: str = "UTC"  # how zone-less export timestamps are read (formats.timestamps)
