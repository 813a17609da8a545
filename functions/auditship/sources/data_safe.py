"""Oracle Data Safe audit events as a source: `ListAuditEvents` of one compartment and its
subtree in one region, one window of *collection* time at a time.

ListAuditEvents (oci-python-sdk `data_safe/data_safe_client.py`): `GET
/20181201/auditEvents` with `compartmentId`, `compartmentIdInSubtree`, `accessLevel`,
`scimQuery`, `sortBy`, `sortOrder`, `limit`, `page`; the answer is a collection
(`{"items": [...]}`). Without `compartmentIdInSubtree=true` and `accessLevel=ACCESSIBLE`
it returns only the compartment's own events (the trap seed 000 fell into), so both are
always sent: one query per region covers the scope's whole subtree.

The window is on `timeCollected`, not `auditEventTime`: a database that was offline
uploads day-old events later, and a window on the event's own time would skip them
forever. Each window is asked as `timeCollected ge "<start>" and timeCollected lt
"<end>"` (RFC 7644 filter syntax), sorted by `timeCollected` ascending, 1000 a page.

Records keep the API's camelCase names. Added: `extendedAttributes` (the
`extendedEventAttributes` string's `KEY=VALUE` pairs as an object: split on `::`, then on
the first `=`; values may hold `=` and `;`), `type` (the configured type, so Data Safe
records are told apart from OCI audit records) and, on Database Vault events,
`databaseVault` (`transforms.database_vault`). The PutLogs entry id is the event's `id`
and its time `auditEventTime` (the normalizer reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from auditship.deadline import Deadline
from auditship.retry import RetryPolicy
from auditship.sources.api_requests import API_POLICY, pages
from auditship.sources.throttle import Throttle
from auditship.sources.windows import Unit, parse_moment, rfc3339
from auditship.transforms.database_vault import MARKER, is_database_vault, vault_detail

SOURCE = "datasafe"
DEFAULT_TYPE = "oci-datasafe"
PAGE_SIZE = 1000
# Bind values (`commandParam`) and SQL text (`commandText`) can hold secrets.
REDACT_CHOICES = {"none": (), "binds": ("commandParam",), "sql": ("commandParam", "commandText")}


def extended_attributes(text: object) -> dict[str, str] | None:
    """`PROXY_SESSIONID=0::AUTHENTICATION_TYPE=(TYPE=(DATABASE));(...)::DBID=3236716633` as
    an object. A piece without `=` is kept under its own text with an empty value, so
    nothing of the string is lost; the string itself stays in `extendedEventAttributes`."""
    if not isinstance(text, str) or not text.strip():
        return None
    pairs: dict[str, str] = {}
    for piece in text.split("::"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        key = key.strip()
        if key:
            pairs[key] = value
    return pairs or None


def datasafe_record(event: dict[str, Any], record_type: str) -> dict[str, Any]:
    """A Data Safe AuditEventSummary (wire JSON) as it is shipped (see the module doc)."""
    record = dict(event)
    attributes = extended_attributes(event.get("extendedEventAttributes"))
    if attributes is not None:
        record["extendedAttributes"] = attributes
    if is_database_vault(event.get("auditPolicies"), event.get("auditType"), attributes or {}):
        record[MARKER] = vault_detail(attributes or {}, event)
    record["type"] = record_type
    return record


class DataSafeSource:
    """What the collector needs of Data Safe (see `sources.api_records.ApiSource`)."""

    name = SOURCE

    def __init__(
        self,
        client_for: Callable[[str], Any],
        throttle: Throttle,
        policy: RetryPolicy = API_POLICY,
        record_type: str = DEFAULT_TYPE,
    ) -> None:
        self._client_for = client_for  # region -> DataSafeClient(skip_deserialization=True)
        self._policy = policy
        self._type = record_type
        self.throttle = throttle

    def pages(self, unit: Unit, deadline: Deadline, margin: float) -> Iterator[list[Any]]:
        client = self._client_for(unit.region)
        query = (
            f'timeCollected ge "{rfc3339(unit.start)}" and timeCollected lt "{rfc3339(unit.end)}"'
        )
        return pages(
            lambda token: client.list_audit_events(
                unit.compartment,
                compartment_id_in_subtree=True,
                access_level="ACCESSIBLE",
                scim_query=query,
                sort_by="timeCollected",
                sort_order="ASC",
                limit=PAGE_SIZE,
                page=token,
            ),
            f"Data Safe audit events of {unit}",
            throttle=self.throttle,
            deadline=deadline,
            margin=margin,
            policy=self._policy,
        )

    def identify(self, raw: dict[str, Any]) -> tuple[str | None, datetime | None]:
        event_id = raw.get("id")
        return (event_id if isinstance(event_id, str) else None), parse_moment(
            raw.get("timeCollected")
        )

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        return datasafe_record(raw, self._type)
