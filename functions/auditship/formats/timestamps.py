"""Timestamps of Oracle audit files as RFC 3339 UTC: pure, no I/O.

- Bus-stop files: `Date` (`YYYY-MM-DD`) and `Time` (`HH:MM:SS[.fff]`), always UTC (seed
  004: "Records to bus-stop files always use UTC").
- Database exports, with the NLS formats `docs/exports.md` sets:
  `YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM` for zone-aware columns (`EXTENDED_TIMESTAMP`,
  `EVENT_TIMESTAMP` of UNIFIED_AUDIT_TRAIL written with a zone) and `YYYY-MM-DD
  HH24:MI:SS[.FF6]` for the rest, which are read in a given zone (`EVENT_TIMESTAMP_UTC` in
  UTC; `AUDIT_TRAIL$.TIMESTAMP` is in the session's zone: the configured one). A `T`
  between date and time, a `Z`, and a zone written `+HHMM` or `+HH` are accepted too.

The result keeps the fraction as written, up to microseconds (`2026-11-30T08:15:02.123456Z`),
so a re-export yields the same string. Values that are not such a time give None: the
record is shipped without an event time (its `@timestamp` is then the time Logz.io or
Logging received it), never refused for it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MOMENT = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?\s*",
    re.IGNORECASE,
)
_OFFSET = re.compile(r"([+-])(\d{2})(?::?(\d{2}))?")


def zone_of(name: str) -> tzinfo:
    """`UTC`, an offset (`+02:00`, `-0530`) or an IANA zone name (`Europe/Berlin`), else a
    ValueError naming the problem."""
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset:
        return _fixed(offset)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"{text!r} is not UTC, an offset like +02:00, or a time zone name this "
            "system knows (install the tzdata package for names)"
        ) from exc


def _fixed(match: re.Match[str]) -> timezone:
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {match.group(0)!r} is out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def oracle_time(value: object, zone: tzinfo = UTC) -> str | None:
    """`value` (see the module doc) as RFC 3339 UTC, reading a value without a zone in
    `zone`; None when it is not such a time."""
    if not isinstance(value, str):
        return None
    m = _MOMENT.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    written = m.group(8)
    try:
        if written is None:
            tz = zone
        elif written.upper() in ("Z", "UTC"):
            tz = UTC
        else:
            offset = _OFFSET.fullmatch(written)
            assert offset is not None  # the pattern only lets offsets through
            tz = _fixed(offset)
        utc_minute = _utc_minute(year, month, day, hour, minute, tz)
    except (ValueError, OverflowError):
        return None  # Feb 30, hour 25, an offset out of range, year 1 east of UTC
    if utc_minute is None or second > 59:
        return None
    digits = m.group(7)
    fraction = "." + digits[:6] if digits else ""  # as many digits as written, to microseconds
    return f"{utc_minute}:{second:02}{fraction}Z"


@lru_cache(maxsize=4096)
def _utc_minute(year: int, month: int, day: int, hour: int, minute: int, tz: tzinfo) -> str:
    """The UTC minute of a local one, `YYYY-MM-DDTHH:MM` (audit rows come many a minute:
    each minute is converted once). Zone offsets are whole minutes, so seconds carry over."""
    utc = datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)
    return f"{utc.year:04}-{utc.month:02}-{utc.day:02}T{utc.hour:02}:{utc.minute:02}"


_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.(\d{1,9}))?")


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=512)
def _is_date(text: str) -> bool:
    # Python 3.11's fromisoformat also takes week dates (2024-W01-1): YYYY-MM-DD only.
    try:
        return _DAY.fullmatch(text) is not None and bool(date.fromisoformat(text))
    except ValueError:
        return False


def busstop_time(day: object, clock: object) -> str | None:
    """Bus-stop `Date` (YYYY-MM-DD) and `Time` (HH:MM:SS[.fff]), UTC, as RFC 3339; None
    when they are not a time. Dates repeat line after line: each is checked once."""
    if not isinstance(day, str) or not isinstance(clock, str) or not _is_date(day):
        return None
    m = _CLOCK.fullmatch(clock)
    if m is None:
        return None
    fraction = m.group(2)
    if fraction is not None and len(fraction) > 6:
        clock = clock[: len(clock) - len(fraction) + 6]  # to microseconds, like oracle_time
    return f"{day}T{clock}Z"
