"""Fake Oracle Data Safe ListAuditEvents, one real HTTP/1.1 server for several regions.

The real `oci.data_safe.DataSafeClient` talks to it with `service_endpoint=f"{fake.url}/{region}"`:
the SDK appends its base path `/20181201` and the resource path, so requests arrive at
`/<region>/20181201/auditEvents`. A request without the region prefix
(`service_endpoint=fake.url`) is served as `default_region`. With `regions=` given, any other
region prefix -> 404 NotFound (like a host that does not exist). Other paths -> 404 NotFound.

`GET [/<region>]/20181201/auditEvents` (ListAuditEvents; `DataSafeClient.list_audit_events`),
query parameters with their wire names, as the SDK sends them:

* `compartmentId` - required (absent or empty -> 400 MissingParameter). Unknown compartment, or
  one added with `accessible=False` -> 404 NotAuthorizedOrNotFound.
* `compartmentIdInSubtree` (`true`/`false`, default false) and `accessLevel` (`RESTRICTED`
  default | `ACCESSIBLE`); anything else -> 400 InvalidParameter. As Oracle documents
  ("returns specified compartmentId audit Events only. The list does not include any audit
  Events associated with the subcompartments"):
  - subtree false: only the events of that compartment (`accessLevel` is ignored: "valid only
    when compartmentIdInSubtree is set to true") - the trap of a collector that asks the root
    compartment and gets nothing of the subcompartments;
  - subtree true + ACCESSIBLE: that compartment and every descendant (any depth) that is
    accessible - an accessible compartment under an inaccessible one is included, since
    permissions are inherited downwards and "permissions can be on a resource in a
    subcompartment"; inaccessible ones are silently left out;
  - subtree true + RESTRICTED: the docs say "permissions are checked and no partial results are
    displayed" / "return Not Authorized if Principal doesn't have access to even one of the
    child compartments". So: the whole subtree when every descendant is accessible, else
    `restricted_denial_status` (default 404 NotAuthorizedOrNotFound, OCI's usual answer for a
    failed authorization; 403 gives NotAuthorized) and no items.
* `scimQuery` - an RFC 7644 section 3.4.2.2 filter, parsed by a tokenizer + recursive-descent
  parser (no eval) and honoured: attribute names are AuditEventSummary wire names (matched
  case-insensitively, as RFC 7644 says), operators `eq ne co sw ew pr gt ge lt le` (also case-
  insensitive), `and` (binds tighter), `or`, `not (...)`, parentheses; values are strings in
  double quotes with JSON escapes (`\\"`, `\\\\`, `\\uXXXX`...), numbers, `true`/`false`/`null`.
  Typing is strict, as the SDK docstring asks ("text, date, and time values must be enclosed
  in quotation marks ... Numeric and boolean values should not be quoted"):
  - string fields take quoted strings; comparisons are case-sensitive (Oracle Database's, not
    RFC 7644's caseExact=false default); `gt/ge/lt/le` compare lexicographically;
  - `auditEventTime` / `timeCollected` take quoted ISO-8601 date-times (or dates), compared as
    instants (no zone = UTC); `co/sw/ew` on them -> 400;
  - `isAlerted` takes `true`/`false`, `eq`/`ne` only; `peerTargetDatabaseKey` takes numbers;
  - `freeformTags` / `definedTags` (maps) cannot be filtered on -> 400;
  - the documented pseudo-attributes `adminUser`, `commonUser`, `sensitiveActivity`,
    `dsActivity` accept only `eq 1` (as documented) and mean, in this fake: dbUserName is an
    administrative user (SYS, SYSTEM, ADMIN...); dbUserName starts with `C##` or is
    Oracle-maintained; objectOwner.objectName is in `fake.sensitive_objects`; dbUserName is
    `DS$ADMIN`;
  - a field that is null/absent fails every operator except `eq null` (and `ne` with a
    non-null value is false too, as in SQL); `pr` is "not null and not empty";
  - a syntax error, an unknown attribute or operator, a value of the wrong type, an unparsable
    date, `attr[...]` value paths -> 400 InvalidParameter naming the offending text.
* `sortBy` - one of the values the SDK allows (unknown -> 400); the fake sorts by that field
  (nulls last in ASC, first in DESC, like Oracle Database), ties broken by `id`. `sortOrder`
  `ASC`|`DESC` (else 400). Neither the SDK nor the API reference states a default: the fake
  uses `auditEventTime` when `sortBy` is absent, and DESC for the two time fields / ASC for the
  others when `sortOrder` is absent - a caller that pages for collection must pass both.
* `limit` - no default or maximum is documented; the fake answers `page_size` items (default
  100) when absent, caps larger values at `max_limit` (default 1000) and rejects anything but
  an integer >= 1 with 400 InvalidParameter.
* `page` - the `opc-next-page` token of the previous answer: opaque, HMAC-signed, bound to the
  query (region, compartment, subtree, access level, scimQuery, sort) and carrying the sort key
  of the last item returned (keyset paging): events added after the first page neither shift
  nor repeat items of later pages; they show up when their key comes after the token's. Any
  other token -> 400 InvalidParameter. `limit` may change between pages.
* Answer: 200 `{"items": [AuditEventSummary wire JSON...]}` (AuditEventCollection), with
  `opc-next-page` when more items remain.

Check order: scripted action; `latency`; no `authorization` header -> 401 NotAuthenticated (the
signature is not verified); path/region 404; `throttle_every` 429; query parameters 400; the
compartment scope 404 (or `restricted_denial_status`); a compartment of the scope in
`fail_compartments` -> 500 InternalServerError, every time; then the listing. Errors are OCI's
JSON `{"code": ..., "message": ...}`; every answer carries `opc-request-id`.

Compartments: `FakeDataSafe(tenancy_id=..., compartments=[(id, parent_id, accessible), ...])`
(parent None = the tenancy) and/or `identity=FakeIdentity(...)`, whose compartments (id,
parent_id, accessible) are read live at every request; `add_compartment(id, parent_id,
accessible=True)` adds more. The tenancy (root) is always known and accessible.

Events: `add_event(region, compartment_id, event)` stores one wire-JSON AuditEventSummary (needs
string `id`, `auditEventTime`, `timeCollected`; `compartmentId` is filled in or must match);
`make_audit_event(...)` builds a realistic one - every field of the model's attribute map,
hostile values (quotes, `=`, `;`, parentheses, unicode), `database_vault=True` for Oracle
Database Vault records (`auditPolicies` ORA_DV_AUDPOL, `auditType` DATABASE_VAULT, DV_* keys in
`extendedEventAttributes`). `timeCollected` is when Data Safe collected the record from the
target, which may be long after `auditEventTime`. `list_events(...)` answers what the API would
return (all pages), for assertions.

Load and faults, as `FakeAuditApi`: `latency` (settable), `fail_compartments` (settable set),
`throttle(n, retry_after)` / `throttle_every=k` -> 429 TooManyRequests with `retry-after`,
scripted actions (`script([...])`, see `fakes`), `requests` (`DataSafeRequest` per request:
region, compartment, subtree, access level, scimQuery, sort, limit, page, status, items...),
`in_flight` / `max_in_flight`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from . import OCI_ERROR_CODES, FakeHandler, FakeHTTPServer, OciError, not_authenticated

if TYPE_CHECKING:
    from .identity import FakeIdentity

__all__ = [
    "AUDIT_EVENT_FIELDS",
    "SORT_BY_VALUES",
    "DataSafeRequest",
    "FakeDataSafe",
    "OciError",
    "ScimError",
    "make_audit_event",
    "parse_scim_filter",
]

BASE = "/20181201"
_PATH = re.compile(r"^(?:/([a-z][a-z0-9-]*[0-9]))?/20181201/(.+)$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUERY_PARAMS = frozenset(
    {
        "compartmentId",
        "compartmentIdInSubtree",
        "accessLevel",
        "limit",
        "page",
        "scimQuery",
        "sortOrder",
        "sortBy",
    }
)

#: AuditEventSummary wire names (the model's attribute_map values, in its order) -> kind.
AUDIT_EVENT_FIELDS: dict[str, str] = {
    "id": "str",
    "compartmentId": "str",
    "dbUserName": "str",
    "targetId": "str",
    "targetName": "str",
    "databaseType": "str",
    "targetClass": "str",
    "auditEventTime": "time",
    "timeCollected": "time",
    "osUserName": "str",
    "operation": "str",
    "operationStatus": "str",
    "eventName": "str",
    "errorCode": "str",
    "errorMessage": "str",
    "objectType": "str",
    "objectName": "str",
    "objectOwner": "str",
    "clientHostname": "str",
    "clientIp": "str",
    "auditTrailId": "str",
    "isAlerted": "bool",
    "actionTaken": "str",
    "clientProgram": "str",
    "commandText": "str",
    "commandParam": "str",
    "extendedEventAttributes": "str",
    "auditLocation": "str",
    "osTerminal": "str",
    "clientId": "str",
    "auditPolicies": "str",
    "auditType": "str",
    "externalUserId": "str",
    "targetUser": "str",
    "peerTargetDatabaseKey": "int",
    "trailSource": "str",
    "databaseUniqueName": "str",
    "applicationContexts": "str",
    "fgaPolicyName": "str",
    "freeformTags": "map",
    "definedTags": "map",
}
_TIME_FIELDS = ("auditEventTime", "timeCollected")

#: The `sortBy` values `list_audit_events` allows (SDK 2.189.0), in its order.
SORT_BY_VALUES: tuple[str, ...] = (
    "dbUserName",
    "targetName",
    "databaseType",
    "targetClass",
    "auditEventTime",
    "timeCollected",
    "osUserName",
    "operation",
    "operationStatus",
    "eventName",
    "errorCode",
    "errorMessage",
    "objectType",
    "objectName",
    "objectOwner",
    "clientHostname",
    "clientIp",
    "isAlerted",
    "actionTaken",
    "clientProgram",
    "commandText",
    "commandParam",
    "extendedEventAttributes",
    "auditLocation",
    "osTerminal",
    "clientId",
    "auditPolicies",
    "auditType",
    "externalUserId",
)
DEFAULT_SORT_BY = "auditEventTime"

_ADMIN_USERS = frozenset(
    {"SYS", "SYSTEM", "ADMIN", "SYSBACKUP", "SYSDG", "SYSKM", "SYSRAC", "PDBADMIN"}
)
_ORACLE_MAINTAINED = _ADMIN_USERS | {
    "AUDSYS",
    "DBSNMP",
    "DVSYS",
    "DVF",
    "LBACSYS",
    "XDB",
    "GSMADMIN_INTERNAL",
    "DS$ADMIN",
}
_PSEUDO_ATTRIBUTES = ("adminUser", "commonUser", "sensitiveActivity", "dsActivity")

_CODES = OCI_ERROR_CODES


def _to_us(when: datetime) -> int:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _rfc3339(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_instant(raw: str) -> datetime | None:
    """An ISO-8601 date or date-time as an aware datetime (no zone = UTC); None if invalid."""
    text = raw.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------------
# SCIM filter: tokenizer, recursive-descent parser, compiled predicates
# ------------------------------------------------------------------------------------------------


class ScimError(ValueError):
    """An invalid scimQuery (the fake answers 400 InvalidParameter with this message)."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(" | ")" | "str" | "num" | "word" | "end"
    value: Any
    pos: int
    text: str


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z$][A-Za-z0-9_$\-:.]*")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"})


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in "()":
            toks.append(_Tok(ch, ch, i, ch))
            i += 1
        elif ch == '"':
            start, i = i, i + 1
            out: list[str] = []
            while True:
                if i >= n:
                    raise ScimError(f"unterminated string starting at position {start}")
                ch = text[i]
                if ch == '"':
                    i += 1
                    break
                if ch == "\\":
                    if i + 1 >= n:
                        raise ScimError(f"unterminated string starting at position {start}")
                    esc = text[i + 1]
                    if esc in _ESCAPES:
                        out.append(_ESCAPES[esc])
                        i += 2
                    elif esc == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
                        out.append(chr(int(text[i + 2 : i + 6], 16)))
                        i += 6
                    else:
                        raise ScimError(f"invalid escape {text[i : i + 2]!r} at position {i}")
                else:
                    out.append(ch)
                    i += 1
            toks.append(_Tok("str", "".join(out), start, text[start:i]))
        elif ch == "-" or ch.isdigit():
            match = _NUMBER.match(text, i)
            if match is None or (match.end() < n and (text[match.end()].isalnum())):
                raise ScimError(f"invalid number at position {i}")
            raw = match.group()
            value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            toks.append(_Tok("num", value, i, raw))
            i = match.end()
        elif ch == "[":
            raise ScimError(f"value-path filters (attr[...]) are not supported (position {i})")
        else:
            match = _WORD.match(text, i)
            if match is None:
                raise ScimError(f"unexpected character {ch!r} at position {i}")
            toks.append(_Tok("word", match.group(), i, match.group()))
            i = match.end()
    toks.append(_Tok("end", None, n, "end of filter"))
    return toks


@dataclass
class _Row:
    """A stored event as the filter and the sort see it."""

    doc: dict[str, Any]
    body: bytes
    id: str
    times: dict[str, int]  #: time field -> microseconds since the epoch (absent: null)

    def value(self, field: str) -> Any:
        if field in self.times:
            return self.times[field]
        return self.doc.get(field)


Predicate = Callable[[_Row], bool]


class _Parser:
    """FILTER := or ; or := and ("or" and)* ; and := unary ("and" unary)* ;
    unary := "not" "(" or ")" | "(" or ")" | attrExp ;
    attrExp := ATTR "pr" | ATTR compareOp compValue."""

    def __init__(self, text: str, sensitive_objects: frozenset[str]) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.at = 0
        self.sensitive = sensitive_objects
        self.attributes = {name.lower(): name for name in AUDIT_EVENT_FIELDS}
        self.attributes.update({name.lower(): name for name in _PSEUDO_ATTRIBUTES})

    def peek(self) -> _Tok:
        return self.toks[self.at]

    def take(self) -> _Tok:
        tok = self.toks[self.at]
        if tok.kind != "end":
            self.at += 1
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.value.lower() == word

    def expect(self, kind: str) -> _Tok:
        tok = self.take()
        if tok.kind != kind:
            raise ScimError(f"expected {kind!r} at position {tok.pos}, found {tok.text!r}")
        return tok

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            raise ScimError("empty filter")
        predicate = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise ScimError(f"unexpected {tok.text!r} at position {tok.pos}")
        return predicate

    def parse_or(self) -> Predicate:
        terms = [self.parse_and()]
        while self.is_word("or"):
            self.take()
            terms.append(self.parse_and())
        if len(terms) == 1:
            return terms[0]
        return lambda row: any(term(row) for term in terms)

    def parse_and(self) -> Predicate:
        terms = [self.parse_unary()]
        while self.is_word("and"):
            self.take()
            terms.append(self.parse_unary())
        if len(terms) == 1:
            return terms[0]
        return lambda row: all(term(row) for term in terms)

    def parse_unary(self) -> Predicate:
        tok = self.peek()
        if self.is_word("not"):
            self.take()
            self.expect("(")
            inner = self.parse_or()
            self.expect(")")
            return lambda row: not inner(row)
        if tok.kind == "(":
            self.take()
            inner = self.parse_or()
            self.expect(")")
            return inner
        if tok.kind == "word":
            return self.parse_attr_exp()
        raise ScimError(
            f"expected an attribute, 'not' or '(' at position {tok.pos}, found {tok.text!r}"
        )

    def parse_attr_exp(self) -> Predicate:
        attr_tok = self.take()
        name = self.attributes.get(attr_tok.value.lower())
        if name is None:
            raise ScimError(f"unknown attribute {attr_tok.value!r} at position {attr_tok.pos}")
        op_tok = self.take()
        op = op_tok.value.lower() if op_tok.kind == "word" else None
        if op not in _OPERATORS:
            raise ScimError(
                f"expected an operator (eq ne co sw ew pr gt ge lt le) after {name!r} at "
                f"position {op_tok.pos}, found {op_tok.text!r}"
            )
        if op == "pr":
            if name in _PSEUDO_ATTRIBUTES:
                raise ScimError(f"{name} only supports 'eq 1'")
            if AUDIT_EVENT_FIELDS[name] == "map":
                raise ScimError(f"attribute {name!r} cannot be filtered on")
            return lambda row: row.value(name) not in (None, "")
        val_tok = self.take()
        if val_tok.kind == "str":
            value: Any = val_tok.value
        elif val_tok.kind == "num":
            value = val_tok.value
        elif val_tok.kind == "word" and val_tok.value in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[val_tok.value]
        else:
            raise ScimError(
                f"expected a value after {name!r} {op!r} at position {val_tok.pos}, "
                f"found {val_tok.text!r}"
            )
        if name in _PSEUDO_ATTRIBUTES:
            if op != "eq" or val_tok.kind != "num" or value != 1:
                raise ScimError(f"{name} only supports 'eq 1' (position {attr_tok.pos})")
            return self.pseudo(name)
        return self.compare(name, op, value, val_tok)

    def pseudo(self, name: str) -> Predicate:
        def user(row: _Row) -> str:
            return str(row.doc.get("dbUserName") or "").upper()

        if name == "adminUser":
            return lambda row: user(row) in _ADMIN_USERS
        if name == "commonUser":
            return lambda row: user(row).startswith("C##") or user(row) in _ORACLE_MAINTAINED
        if name == "dsActivity":
            return lambda row: user(row) == "DS$ADMIN"
        sensitive = self.sensitive
        return lambda row: f"{row.doc.get('objectOwner')}.{row.doc.get('objectName')}" in sensitive

    def compare(self, name: str, op: str, value: Any, tok: _Tok) -> Predicate:
        kind = AUDIT_EVENT_FIELDS[name]
        where = f"({name} {op} {tok.text} at position {tok.pos})"
        if kind == "map":
            raise ScimError(f"attribute {name!r} cannot be filtered on")
        if value is None:
            if op not in ("eq", "ne"):
                raise ScimError(f"null can only be compared with eq or ne {where}")
            if op == "eq":
                return lambda row: row.value(name) is None
            return lambda row: row.value(name) is not None
        if kind == "time":
            if op in ("co", "sw", "ew"):
                raise ScimError(f"operator {op!r} does not apply to date-time {name} {where}")
            if tok.kind != "str":
                raise ScimError(f"{name} takes a quoted ISO-8601 date-time {where}")
            when = _parse_instant(value)
            if when is None:
                raise ScimError(f"invalid ISO-8601 date-time {value!r} for {name} {where}")
            target: Any = _to_us(when)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ScimError(f"{name} takes true or false {where}")
            if op not in ("eq", "ne"):
                raise ScimError(f"operator {op!r} does not apply to boolean {name} {where}")
            target = value
        elif kind == "int":
            if tok.kind != "num":
                raise ScimError(f"{name} takes an unquoted number {where}")
            if op in ("co", "sw", "ew"):
                raise ScimError(f"operator {op!r} does not apply to number {name} {where}")
            target = value
        else:
            if tok.kind != "str":
                raise ScimError(f"{name} takes a quoted string {where}")
            target = value
        return _comparison(name, op, target)


def _comparison(name: str, op: str, target: Any) -> Predicate:
    def check(row: _Row) -> bool:
        have = row.value(name)
        if have is None:
            return False
        if isinstance(target, str):
            have = str(have)
        elif isinstance(target, bool):
            have = bool(have)
        elif isinstance(have, str):
            return False  # a number field holding text never matches a number
        if op == "eq":
            return bool(have == target)
        if op == "ne":
            return bool(have != target)
        if op == "co":
            return target in have
        if op == "sw":
            return bool(have.startswith(target))
        if op == "ew":
            return bool(have.endswith(target))
        if op == "gt":
            return bool(have > target)
        if op == "ge":
            return bool(have >= target)
        if op == "lt":
            return bool(have < target)
        return bool(have <= target)

    return check


def parse_scim_filter(
    text: str, sensitive_objects: Iterable[str] = ()
) -> Callable[[Mapping[str, Any]], bool]:
    """Compile a scimQuery into a predicate over wire-JSON events (raises ScimError)."""
    predicate = _Parser(text, frozenset(sensitive_objects)).parse()

    def test(event: Mapping[str, Any]) -> bool:
        return predicate(_row(dict(event), b""))

    return test


def _row(doc: dict[str, Any], body: bytes) -> _Row:
    times: dict[str, int] = {}
    for name in _TIME_FIELDS:
        raw = doc.get(name)
        if isinstance(raw, str):
            when = _parse_instant(raw)
            if when is None:
                raise ValueError(f"{name} is not an ISO-8601 date-time: {raw!r}")
            times[name] = _to_us(when)
    return _Row(doc=doc, body=body, id=str(doc.get("id")), times=times)


# ------------------------------------------------------------------------------------------------
# Realistic events
# ------------------------------------------------------------------------------------------------

#: operation, eventName, status, objectType, owner, name, commandText, commandParam, policies
_CATALOG: tuple[tuple[Any, ...], ...] = (
    ("LOGON", "LOGON", "SUCCESS", None, None, None, "LOGON", None, "ORA_LOGIN_LOGOUT"),
    (
        "LOGON",
        "LOGON",
        "FAILURE",
        None,
        None,
        None,
        "LOGON",
        None,
        "ORA_LOGON_FAILURES",
    ),
    (
        "SELECT",
        "SELECT",
        "SUCCESS",
        "TABLE",
        "HR",
        "EMPLOYEES",
        'SELECT "FIRST_NAME", last_name FROM hr.employees WHERE last_name = :b1 '
        "AND note LIKE '%;=(x)%' -- ünïcødé «quoted»",
        " #1(8):O'Brien=1 #2(6):Zoë;()",
        "Sensitive data access (HR)",
    ),
    (
        "UPDATE",
        "UPDATE",
        "SUCCESS",
        "TABLE",
        "HR",
        "SALARIES",
        "UPDATE hr.salaries SET amount = amount * 1.1 WHERE dept = 'R&D \"Labs\"'",
        None,
        "ORA_ALL_TOPLEVEL_ACTIONS",
    ),
    (
        "DELETE",
        "DELETE",
        "SUCCESS",
        "TABLE",
        "LBACSYS",
        "OLS$POLT",
        "DELETE FROM LBACSYS.OLS$POLT WHERE TBL_NAME = :B2 AND OWNER = :B1 ",
        " #1(21):ORA_TEMP_2_DS_1721605 #2(3):SYS",
        "ORA_DV_AUDPOL",
    ),
    (
        "CREATE USER",
        "CREATE USER",
        "SUCCESS",
        "USER",
        None,
        "Zoë_Müller",
        'CREATE USER "Zoë_Müller" IDENTIFIED BY ***** DEFAULT TABLESPACE users',
        None,
        "ORA_ACCOUNT_MGMT",
    ),
    (
        "GRANT",
        "GRANT",
        "SUCCESS",
        None,
        None,
        None,
        "GRANT DBA TO scott WITH ADMIN OPTION",
        None,
        "ORA_SECURECONFIG",
    ),
    (
        "ALTER SYSTEM",
        "ALTER SYSTEM",
        "FAILURE",
        None,
        None,
        None,
        "ALTER SYSTEM SET audit_trail='DB, EXTENDED' SCOPE=SPFILE",
        None,
        "ORA_SECURECONFIG",
    ),
    (
        "EXECUTE",
        "EXECUTE",
        "SUCCESS",
        "PACKAGE",
        "SYS",
        "DBMS_AUDIT_MGMT",
        "BEGIN DBMS_AUDIT_MGMT.CLEAN_AUDIT_TRAIL(audit_trail_type => 8); END;",
        None,
        "ORA_SECURECONFIG",
    ),
)
_USERS = ("APP_USER", "SYS", "ADMIN", "SCOTT", "C##CLOUD_OPS", "JÖRG_ØSTERGÅRD", "DS$ADMIN")
_PROGRAMS = (
    "SQL Developer",
    "sqlplus@db-host-01 (TNS V1-V3)",
    "oracle@e2pod-imwp78 (J000)",
    "JDBC Thin Client",
    "python3.11 (oracledb 2.4.1)",
)
_OS_USERS = ("oracle", "jöhn.døe", "svc_app", "渡辺", None)
#: DV_ACTION_CODE -> (DV_ACTION_NAME, DV_RETURN_CODE, operation status, ORA error message)
_DV_ACTIONS: tuple[tuple[int, str, int, str, str | None], ...] = (
    (10003, "Realm Violation Audit", 1031, "FAILURE", "ORA-01031: insufficient privileges"),
    (
        10005,
        "Command Authorization Audit",
        47400,
        "FAILURE",
        "ORA-47400: Command Rule violation for SELECT on HR.EMPLOYEES",
    ),
    (10004, "Realm Authorization Audit", 0, "SUCCESS", None),
)


def _short(region: str) -> str:
    return {"us-ashburn-1": "iad", "us-phoenix-1": "phx", "eu-frankfurt-1": "fra"}.get(
        region, region.split("-")[1][:3] if "-" in region else region[:3]
    )


def _ocid(kind: str, region: str, rng: random.Random) -> str:
    tail = base64.b32encode(rng.getrandbits(300).to_bytes(38, "big")).decode().lower()[:60]
    return f"ocid1.{kind}.oc1.{_short(region)}.{tail}"


def _kv(pairs: Iterable[tuple[str, Any]]) -> str:
    """Data Safe's `KEY=VALUE::KEY=VALUE` form (values are not escaped: they may hold `=`)."""
    return "::".join(f"{key}={'null' if value is None else value}" for key, value in pairs)


def make_audit_event(
    *,
    audit_event_time: datetime,
    compartment_id: str,
    time_collected: datetime | None = None,
    database_vault: bool = False,
    region: str = "us-ashburn-1",
    target_id: str | None = None,
    target_name: str | None = None,
    database_unique_name: str | None = None,
    db_user_name: str | None = None,
    operation: str | None = None,
    event_name: str | None = None,
    operation_status: str | None = None,
    event_id: str | None = None,
    seed: int | str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A realistic AuditEventSummary in wire JSON (camelCase), as ListAuditEvents answers it.

    Every key of the model's attribute map is present (unset ones null). Deterministic for a
    given `seed` (random otherwise). `time_collected` defaults to 5 s - 10 min after
    `audit_event_time`. `database_vault=True` makes an Oracle Database Vault record:
    `auditPolicies` "ORA_DV_AUDPOL", `auditType` "DATABASE_VAULT" and DV_ACTION_CODE,
    DV_ACTION_NAME (e.g. "Realm Violation Audit"), DV_EXTENDED_ACTION_CODE, DV_GRANTEE,
    DV_RETURN_CODE (e.g. 1031), DV_ACTION_OBJECT_NAME ("HR Realm"), DV_RULE_SET_NAME, DV_COMMENT,
    DV_FACTOR_CONTEXT (an XML snippet), DV_OBJECT_STATUS in `extendedEventAttributes`. Values
    hold `=`, `;`, `:`, parentheses, double quotes and unicode, never `::` (the separator).
    `overrides` (wire names -> values) are applied last; unknown names -> ValueError.
    """
    rng = random.Random(seed)
    when = audit_event_time if audit_event_time.tzinfo else audit_event_time.replace(tzinfo=UTC)
    collected = time_collected or when + timedelta(milliseconds=rng.randrange(5_000, 600_000))
    pick = rng.choice(_CATALOG)
    op, name, status, obj_type, owner, obj_name, command, params, policies = pick
    user = db_user_name or rng.choice(_USERS)
    unique_name = database_unique_name or rng.choice(("ep71pod", "prodcdb_fra1", "hr_pdb"))
    target_ocid = target_id or _ocid("datasafetargetdatabase", region, rng)
    host_ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    port = rng.randrange(1024, 65536)
    session_id = rng.randrange(10**9, 4 * 10**9)
    audit_type = "STANDARD"
    error_code: str | None = None
    error_message: str | None = None
    fga_policy: str | None = None
    target_user: str | None = "SCOTT" if op == "GRANT" else None
    if op == "CREATE USER":
        target_user = obj_name
    if status == "FAILURE":
        if op == "LOGON":
            error_code, error_message = "1017", "ORA-01017: invalid username/password; logon denied"
        else:
            error_code, error_message = "2097", "ORA-02097: parameter cannot be modified because"
            error_message += ' specified value is invalid ("DB, EXTENDED"; scope=SPFILE)'
    if database_vault:
        code, action_name, return_code, status, message = rng.choice(_DV_ACTIONS)
        op, name = "SELECT", "SELECT"
        obj_type, owner, obj_name = "TABLE", "HR", "EMPLOYEES"
        command = "SELECT salary FROM hr.employees WHERE employee_id = 100"
        params = None
        policies, audit_type = "ORA_DV_AUDPOL", "DATABASE_VAULT"
        error_code = str(return_code) if return_code else None
        error_message = message
    common: list[tuple[str, Any]] = [
        ("PROXY_SESSIONID", 0),
        ("INSTANCE_ID", rng.randrange(1, 3)),
        ("SESSIONID", session_id),
        (
            "AUTHENTICATION_TYPE",
            f"(TYPE=(DATABASE));(CLIENT ADDRESS=((PROTOCOL=tcp)(HOST={host_ip})(PORT={port})));",
        ),
        ("DBID", rng.randrange(10**9, 4 * 10**9)),
        ("DBPROXY_USERNAME", None),
        ("GLOBAL_USERID", None),
        ("STATEMENT_ID", rng.randrange(1, 500)),
        ("OS_PROCESS", rng.randrange(1000, 999_999)),
        ("TRANSACTION_ID", f"{rng.getrandbits(64):016X}"),
        ("SCN", rng.randrange(10**13, 10**14)),
        ("OBJECT_SCHEMA", owner),
        ("APPLICATION_CONTEXTS", "(USERENV,AUTHENTICATED_IDENTITY=)"),
        ("ADDITIONAL_INFO", f'AutoTask++ OperationDB_UNIQUE_NAME="{unique_name}";'),
        ("CURRENT_USER", owner or user),
    ]
    if database_vault:
        factor_context = (
            '<?xml version="1.0" encoding="UTF-8"?><Context>'
            f'<Factor name="Client_IP" value="{host_ip}"/>'
            '<Factor name="Authentication_Method" value="PASSWORD"/>'
            f'<Factor name="Session_User" value="{user}"/>'
            '<Factor name="Database_Domain" value="sub1.vcn; &quot;x=y&quot;"/>'
            "</Context>"
        )
        common += [
            ("DV_ACTION_CODE", code),
            ("DV_ACTION_NAME", action_name),
            ("DV_EXTENDED_ACTION_CODE", rng.choice((0, 10040))),
            ("DV_GRANTEE", "HR_ADMIN"),
            ("DV_RETURN_CODE", return_code),
            ("DV_ACTION_OBJECT_NAME", "HR Realm"),
            ("DV_RULE_SET_NAME", 'Allow Sessions (Weekdays; "Office" TZ=UTC+1)'),
            (
                "DV_COMMENT",
                f'{action_name} by "{user}" at 12:30; object=HR.EMPLOYEES (salary>=10000) '
                "— Ünïcødé ✓ 日本語",
            ),
            ("DV_FACTOR_CONTEXT", factor_context),
            ("DV_OBJECT_STATUS", "ENABLED"),
        ]
    status = operation_status or status
    app_contexts = '(USERENV,AUTHENTICATED_IDENTITY=);(CLIENTCONTEXT,TAG="a=b;c (d)")'
    event: dict[str, Any] = {
        "id": event_id or _ocid("datasafeauditevent", region, rng),
        "compartmentId": compartment_id,
        "dbUserName": user,
        "targetId": target_ocid,
        "targetName": target_name or rng.choice(("prod-adb", "hr-db (ünïcødé)", "dv-pdb")),
        "databaseType": rng.choice(
            ("AUTONOMOUS_DATABASE", "DATABASE_CLOUD_SERVICE", "INSTALLED_DATABASE")
        ),
        "targetClass": "DATABASE",
        "auditEventTime": _rfc3339(when),
        "timeCollected": _rfc3339(collected),
        "osUserName": rng.choice(_OS_USERS),
        "operation": operation or op,
        "operationStatus": status,
        "eventName": event_name or name,
        "errorCode": error_code,
        "errorMessage": error_message,
        "objectType": obj_type,
        "objectName": obj_name,
        "objectOwner": owner,
        "clientHostname": f"e2pod-{rng.getrandbits(24):06x}.subdb1.vcnadwcfra1.oraclevcn.com",
        "clientIp": host_ip,
        "auditTrailId": None,
        "isAlerted": rng.random() < 0.2,
        "actionTaken": None,
        "clientProgram": rng.choice(_PROGRAMS),
        "commandText": command,
        "commandParam": params,
        "extendedEventAttributes": _kv(common),
        "auditLocation": "AUDIT_TABLE",
        "osTerminal": rng.choice(("pts/3", "UNKNOWN", "")),
        "clientId": rng.choice((None, "app-ctx-42", "jöhn@example.com")),
        "auditPolicies": policies,
        "auditType": audit_type,
        "externalUserId": rng.choice((None, "CN=Jöhn Døe,OU=DBA,O=Example\\, Inc.")),
        "targetUser": target_user,
        "peerTargetDatabaseKey": rng.choice((None, 1, 2)),
        "trailSource": "TABLE",
        "databaseUniqueName": unique_name,
        "applicationContexts": app_contexts,
        "fgaPolicyName": fga_policy,
        "freeformTags": {"team": "sécurité", "cost-center": str(rng.randrange(100, 999))},
        "definedTags": {"Operations": {"CostCenter": "42", "Owner": "Zoë 🚀"}},
    }
    for key, value in (overrides or {}).items():
        if key not in AUDIT_EVENT_FIELDS:
            raise ValueError(f"{key!r} is not an AuditEventSummary wire name")
        event[key] = value
    return event


# ------------------------------------------------------------------------------------------------
# The server
# ------------------------------------------------------------------------------------------------


@dataclass
class DataSafeRequest:
    """One request as the fake saw it (the authorization header is never stored)."""

    method: str
    path: str  #: path without the query string
    query: dict[str, str]  #: decoded query parameters (last value wins)
    region: str | None = None
    compartment_id: str | None = None
    subtree: bool | None = None  #: compartmentIdInSubtree (None: absent or invalid)
    access_level: str | None = None  #: accessLevel as sent
    scim_query: str | None = None
    sort_by: str | None = None  #: as sent
    sort_order: str | None = None  #: as sent
    limit: int | None = None  #: as sent (None: absent or invalid)
    page: str | None = None  #: the `page` token sent, if any
    status: int | None = None  #: None when the connection was reset
    code: str | None = None  #: OCI error code answered, if any
    message: str | None = None  #: error message answered, if any
    items: int = 0  #: items in the answer
    next_page: str | None = None  #: `opc-next-page` answered, if any
    compartments: tuple[str, ...] = ()  #: the compartments the listing covered
    action: str = "ok"
    elapsed: float = 0.0  #: seconds spent in the fake (including `latency`)


def _not_found() -> OciError:
    return OciError(
        404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found."
    )


class _DataSafeHandler(FakeHandler):
    owner: FakeDataSafe  # type: ignore[assignment]

    def do_GET(self) -> None:
        owner = self.owner
        self.read_body()
        began = time.monotonic()
        owner._enter()
        try:
            self._serve(began)
        finally:
            owner._leave()

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def _serve(self, began: float) -> None:
        owner = self.owner
        action = owner._next_action()
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request_id = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        rec = DataSafeRequest(self.command, path, query, action=action.describe())
        rec.compartment_id = query.get("compartmentId")
        rec.access_level = query.get("accessLevel")
        rec.scim_query = query.get("scimQuery")
        rec.sort_by = query.get("sortBy")
        rec.sort_order = query.get("sortOrder")
        rec.page = query.get("page")
        subtree = query.get("compartmentIdInSubtree", "").lower()
        rec.subtree = {"true": True, "false": False}.get(subtree)
        if query.get("limit", "").isdigit():
            rec.limit = int(query["limit"])
        match = _PATH.match(path)
        if match is not None:
            rec.region = match.group(1) or owner.default_region
        latency = owner.latency
        if latency > 0:
            owner._stopping.wait(latency)
        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec, began)
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            self._answer(
                rec,
                began,
                request_id,
                action.status,
                None,
                action.headers,
                action.body,
                "Scripted failure",
            )
            return
        if action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                self._answer(
                    rec, began, request_id, owner.hang_status, None, {}, None, "Scripted failure"
                )
                return
        try:
            body, headers = owner._handle(rec, dict(self.headers.items()))
        except OciError as exc:
            self._answer(
                rec, began, request_id, exc.status, exc.code, exc.headers, None, exc.message
            )
            return
        self._answer(rec, began, request_id, 200, None, headers, body, "")

    def _answer(
        self,
        rec: DataSafeRequest,
        began: float,
        request_id: str,
        status: int,
        code: str | None,
        headers: Mapping[str, str],
        body: bytes | None,
        message: str,
    ) -> None:
        rec.status = status
        if status >= 400:
            rec.code = code or _CODES.get(status, "Error")
            rec.message = message
            if body is None:
                body = json.dumps({"code": rec.code, "message": message}).encode()
        self.owner._record(rec, began)
        self.send_simple(
            status,
            body or b"",
            content_type="application/json",
            headers={"opc-request-id": request_id, **dict(headers)},
        )


@dataclass(frozen=True)
class _Query:
    region: str
    compartment_id: str
    subtree: bool
    access_level: str
    scim_query: str | None
    sort_by: str
    descending: bool

    def signature(self) -> list[Any]:
        return [
            self.region,
            self.compartment_id,
            self.subtree,
            self.access_level,
            self.scim_query,
            self.sort_by,
            self.descending,
        ]


class FakeDataSafe(FakeHTTPServer):
    """Fake Data Safe ListAuditEvents for several regions on one port. See the module docstring.

    Args:
        default_region: the region served for paths without a region prefix.
        tenancy_id: the root compartment (taken from `identity` when that is given).
        compartments: `(id, parent_id, accessible)` tuples (parent None = the tenancy; the
            tuple may stop after `parent_id`: accessible).
        identity: a `FakeIdentity` whose compartments are read live at every request.
        regions: if given, the only region prefixes served (others -> 404 NotFound).
        page_size: items per page when `limit` is absent (default 100).
        max_limit: the largest `limit` honoured; larger ones are capped (default 1000).
        latency: seconds slept in every request (settable attribute).
        fail_compartments: compartment ids that always answer 500 (settable set).
        throttle_every: answer every k-th ListAuditEvents request 429 (None: never).
        retry_after: the `retry-after` value (seconds) of those 429s.
        restricted_denial_status: the answer to RESTRICTED + subtree over a tree with an
            inaccessible compartment: 404 (NotAuthorizedOrNotFound, default) or 403.
        sensitive_objects: "OWNER.NAME" objects that `sensitiveActivity eq 1` matches.
        hang_seconds / hang_status / host: see `fakes.FakeHTTPServer`.

    Attributes: `url`, `requests` (DataSafeRequest per request), `in_flight`, `max_in_flight`,
    `latency`, `fail_compartments`, `throttle_every`, `sensitive_objects`, `connections`,
    `errors`. Methods: `start()`, `stop()`, context manager, `script([...])`, `throttle(n)`,
    `add_compartment(...)`, `add_event(...)`, `list_events(...)`, `clear()`,
    `wait_for_requests(n)`, `requests_for(region=, compartment_id=)`.
    """

    handler_class: ClassVar[type[FakeHandler]] = _DataSafeHandler

    def __init__(
        self,
        default_region: str = "us-ashburn-1",
        *,
        tenancy_id: str = "ocid1.tenancy.oc1..aaaaaaaatesttenancy",
        compartments: Iterable[tuple[Any, ...]] = (),
        identity: FakeIdentity | None = None,
        regions: Iterable[str] | None = None,
        page_size: int = 100,
        max_limit: int = 1000,
        latency: float = 0.0,
        fail_compartments: Iterable[str] = (),
        throttle_every: int | None = None,
        retry_after: int = 1,
        restricted_denial_status: int = 404,
        sensitive_objects: Iterable[str] = ("HR.EMPLOYEES",),
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        if page_size < 1 or max_limit < 1:
            raise ValueError("page_size and max_limit must be >= 1")
        if restricted_denial_status not in (403, 404):
            raise ValueError("restricted_denial_status must be 403 or 404")
        self.default_region = default_region
        self.identity = identity
        self.tenancy_id = identity.tenancy_id if identity is not None else tenancy_id
        self.regions = frozenset(regions) if regions is not None else None
        self.page_size = page_size
        self.max_limit = max_limit
        self.latency = latency
        self.fail_compartments: set[str] = set(fail_compartments)
        self.throttle_every = throttle_every
        self.retry_after = retry_after
        self.restricted_denial_status = restricted_denial_status
        self.sensitive_objects: set[str] = set(sensitive_objects)
        self.requests: list[DataSafeRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._served = 0
        self._compartments: dict[str, tuple[str, bool]] = {}
        self._events: dict[tuple[str, str], list[_Row]] = {}
        self._ids: set[tuple[str, str]] = set()
        self._secret = os.urandom(16)
        self._flight_lock = threading.Lock()
        for spec in compartments:
            cid, parent = spec[0], spec[1] if len(spec) > 1 else None
            accessible = bool(spec[2]) if len(spec) > 2 else True
            self.add_compartment(cid, parent, accessible=accessible)

    # -- compartments and events -------------------------------------------------------------
    def add_compartment(
        self, id: str, parent_id: str | None = None, *, accessible: bool = True
    ) -> None:
        """Add a compartment under `parent_id` (default: the tenancy)."""
        parent = parent_id or self.tenancy_id
        with self._lock:
            tree = self._tree()
            if id in tree or id == self.tenancy_id:
                raise ValueError(f"duplicate compartment {id}")
            if parent != self.tenancy_id and parent not in tree:
                raise ValueError(f"unknown parent {parent} of {id}")
            self._compartments[id] = (parent, accessible)

    def add_event(
        self, region: str, compartment_id: str, event: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store one wire-JSON AuditEventSummary in (region, compartment); returns it."""
        doc = dict(event)
        if not isinstance(doc.get("id"), str):
            raise ValueError("an audit event needs a string id")
        for name in _TIME_FIELDS:
            if not isinstance(doc.get(name), str):
                raise ValueError(f"an audit event needs a string {name}")
        if doc.get("compartmentId") is None:
            doc["compartmentId"] = compartment_id
        elif doc["compartmentId"] != compartment_id:
            raise ValueError(f"event compartmentId {doc['compartmentId']} != {compartment_id}")
        unknown = sorted(set(doc) - set(AUDIT_EVENT_FIELDS))
        if unknown:
            raise ValueError(f"not AuditEventSummary wire names: {unknown}")
        row = _row(doc, json.dumps(doc, ensure_ascii=False).encode())
        with self._lock:
            if compartment_id != self.tenancy_id and compartment_id not in self._tree():
                raise ValueError(f"unknown compartment {compartment_id}: add_compartment first")
            if (region, row.id) in self._ids:
                raise ValueError(f"duplicate event id {row.id} in {region}")
            self._ids.add((region, row.id))
            self._events.setdefault((region, compartment_id), []).append(row)
        return doc

    def list_events(
        self,
        region: str,
        compartment_id: str,
        *,
        subtree: bool = False,
        access_level: str = "RESTRICTED",
        scim_query: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[dict[str, Any]]:
        """What ListAuditEvents would return for this query, all pages, in order.

        Raises `OciError` where the API would answer an error.
        """
        query = {"compartmentId": compartment_id, "accessLevel": access_level}
        query["compartmentIdInSubtree"] = "true" if subtree else "false"
        if scim_query is not None:
            query["scimQuery"] = scim_query
        if sort_by is not None:
            query["sortBy"] = sort_by
        if sort_order is not None:
            query["sortOrder"] = sort_order
        parsed, predicate = self._parse_query(region, query)
        rows, _ = self._select(parsed, predicate)
        return [json.loads(row.body) for row in rows]

    # -- faults, records -----------------------------------------------------------------------
    def throttle(self, n: int = 1, retry_after: int | None = None) -> None:
        """Script the next `n` requests to answer 429 TooManyRequests with `retry-after`."""
        seconds = self.retry_after if retry_after is None else retry_after
        self.script([(429, {"retry-after": str(seconds)})] * n)

    def requests_for(
        self, region: str | None = None, compartment_id: str | None = None
    ) -> list[DataSafeRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (region is None or r.region == region)
                and (compartment_id is None or r.compartment_id == compartment_id)
            ]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least `n` requests were recorded."""
        return self._wait(lambda: len(self.requests) >= n, timeout)

    def clear(self) -> None:
        """Forget recorded requests and the in-flight maximum (events and script are kept)."""
        with self._lock:
            self.requests.clear()
        with self._flight_lock:
            self.max_in_flight = self.in_flight

    # -- internals -----------------------------------------------------------------------------
    def _enter(self) -> None:
        with self._flight_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._flight_lock:
            self.in_flight -= 1

    def _record(self, rec: DataSafeRequest, began: float) -> None:
        rec.elapsed = time.monotonic() - began
        with self._lock:
            self.requests.append(rec)
        self._notify()

    def _tree(self) -> dict[str, tuple[str, bool]]:
        """compartment id -> (parent id, accessible): the identity's (live) plus our own."""
        tree: dict[str, tuple[str, bool]] = {}
        if self.identity is not None:
            for cid, comp in list(self.identity.compartments.items()):
                tree[cid] = (comp.parent_id, comp.accessible)
        tree.update(self._compartments)
        return tree

    def _scope(self, query: _Query) -> list[str]:
        """The compartments a listing covers (raises the 404/403 the service would answer)."""
        root = query.compartment_id
        with self._lock:
            tree = self._tree()
        if root != self.tenancy_id and (root not in tree or not tree[root][1]):
            raise _not_found()
        if not query.subtree:
            return [root]
        children: dict[str, list[str]] = {}
        for cid, (parent, _) in tree.items():
            children.setdefault(parent, []).append(cid)
        descendants: list[str] = []
        stack = list(reversed(children.get(root, [])))
        while stack:
            cid = stack.pop()
            descendants.append(cid)
            stack.extend(reversed(children.get(cid, [])))
        if query.access_level == "ACCESSIBLE":
            return [root] + [c for c in descendants if tree[c][1]]
        denied = [c for c in descendants if not tree[c][1]]
        if denied:
            if self.restricted_denial_status == 403:
                raise OciError(
                    403,
                    "NotAuthorized",
                    "Not authorized on every compartment of the subtree (accessLevel=RESTRICTED)",
                )
            raise _not_found()
        return [root, *descendants]

    def _parse_query(
        self, region: str, query: Mapping[str, str]
    ) -> tuple[_Query, Predicate | None]:
        compartment_id = query.get("compartmentId")
        if not compartment_id:
            raise OciError(400, "MissingParameter", "Missing required parameter compartmentId")
        unknown = sorted(set(query) - _QUERY_PARAMS)
        if unknown:
            raise OciError(400, "InvalidParameter", f"Unknown query parameters {unknown}")
        subtree_raw = query.get("compartmentIdInSubtree", "false").lower()
        if subtree_raw not in ("true", "false"):
            raise OciError(400, "InvalidParameter", "compartmentIdInSubtree must be true or false")
        access = query.get("accessLevel", "RESTRICTED")
        if access not in ("RESTRICTED", "ACCESSIBLE"):
            raise OciError(400, "InvalidParameter", "accessLevel must be RESTRICTED or ACCESSIBLE")
        sort_by = query.get("sortBy", DEFAULT_SORT_BY)
        if sort_by not in SORT_BY_VALUES:
            raise OciError(400, "InvalidParameter", f"Invalid sortBy {sort_by!r}")
        default_order = "DESC" if sort_by in _TIME_FIELDS else "ASC"
        sort_order = query.get("sortOrder", default_order)
        if sort_order not in ("ASC", "DESC"):
            raise OciError(400, "InvalidParameter", "sortOrder must be ASC or DESC")
        scim = query.get("scimQuery")
        predicate: Predicate | None = None
        if scim is not None:
            try:
                predicate = _Parser(scim, frozenset(self.sensitive_objects)).parse()
            except ScimError as exc:
                raise OciError(400, "InvalidParameter", f"Invalid scimQuery: {exc}") from None
        parsed = _Query(
            region=region,
            compartment_id=compartment_id,
            subtree=subtree_raw == "true",
            access_level=access,
            scim_query=scim,
            sort_by=sort_by,
            descending=sort_order == "DESC",
        )
        return parsed, predicate

    def _select(self, query: _Query, predicate: Predicate | None) -> tuple[list[_Row], list[str]]:
        """Every matching row of the query's scope, sorted; and the scope."""
        scope = self._scope(query)
        failing = [c for c in scope if c in self.fail_compartments]
        if failing:
            raise OciError(500, "InternalServerError", "Internal error")
        with self._lock:
            rows = [row for c in scope for row in self._events.get((query.region, c), ())]
        if predicate is not None:
            rows = [row for row in rows if predicate(row)]
        rows.sort(key=lambda row: _sort_key(row, query.sort_by), reverse=query.descending)
        return rows, scope

    def _handle(
        self, rec: DataSafeRequest, headers: Mapping[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        if not any(k.lower() == "authorization" for k in headers):
            raise not_authenticated()
        match = _PATH.match(rec.path)
        if rec.method != "GET" or match is None or match.group(2) != "auditEvents":
            raise OciError(404, "NotFound", "Unknown resource")
        region = match.group(1) or self.default_region
        if self.regions is not None and region not in self.regions:
            raise OciError(404, "NotFound", f"Unknown region {region}")
        with self._lock:
            self._served += 1
            served = self._served
        if self.throttle_every and served % self.throttle_every == 0:
            raise OciError(
                429,
                "TooManyRequests",
                "Too many requests for the tenancy",
                {"retry-after": str(self.retry_after)},
            )
        query, predicate = self._parse_query(region, rec.query)
        limit = self.page_size
        if "limit" in rec.query:
            raw = rec.query["limit"]
            limit = int(raw) if raw.isdigit() else 0
            if limit < 1:
                raise OciError(400, "InvalidParameter", "limit must be an integer >= 1")
            limit = min(limit, self.max_limit)
        after: tuple[Any, ...] | None = None
        if "page" in rec.query:
            after = self._decode_token(rec.query["page"], query.signature())
        rows, scope = self._select(query, predicate)
        rec.compartments = tuple(scope)
        if after is not None:
            if query.descending:
                rows = [r for r in rows if _sort_key(r, query.sort_by) < after]
            else:
                rows = [r for r in rows if _sort_key(r, query.sort_by) > after]
        page = rows[:limit]
        answer_headers: dict[str, str] = {}
        if len(rows) > limit:
            rec.next_page = self._mint_token(_sort_key(page[-1], query.sort_by), query.signature())
            answer_headers["opc-next-page"] = rec.next_page
        rec.items = len(page)
        body = b'{"items":[' + b",".join(row.body for row in page) + b"]}"
        return body, answer_headers

    def _mint_token(self, last: tuple[Any, ...], signature: list[Any]) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps({"k": list(last), "q": signature}).encode()
        ).decode()
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{payload}.{mac}"

    def _decode_token(self, token: str, signature: list[Any]) -> tuple[Any, ...]:
        payload, _, mac = token.rpartition(".")
        expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:24]
        if not payload or not hmac.compare_digest(mac, expected):
            raise OciError(400, "InvalidParameter", "Invalid page token")
        doc = json.loads(base64.urlsafe_b64decode(payload))
        if doc.get("q") != signature:
            raise OciError(400, "InvalidParameter", "The page token does not belong to this query")
        return tuple(doc["k"])


def _sort_key(row: _Row, field: str) -> tuple[Any, ...]:
    """(0, value, id) - or (1, "", id) for null, which sorts after every value (Oracle's
    NULLS LAST for ASC; reversed, NULLS FIRST for DESC). JSON-safe for page tokens."""
    value = row.value(field)
    if value is None:
        return (1, "", row.id)
    kind = AUDIT_EVENT_FIELDS[field]
    if kind == "time" or kind == "int":
        return (0, int(value), row.id)
    if kind == "bool":
        return (0, int(bool(value)), row.id)
    return (0, str(value), row.id)
