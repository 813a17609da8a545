"""Fake OCI Identity (tenancy, region subscriptions, compartments), a real HTTP/1.1 server.

The real `oci.identity.IdentityClient` talks to it with `service_endpoint=fake.url` (the SDK
appends its base path `/20160918`). Implemented operations, as `identity_client.py` of the SDK
builds them:

* `GET /20160918/tenancies/{tenancyId}` (GetTenancy) -> Tenancy JSON (`id`, `name`,
  `description`, `homeRegionKey`, `freeformTags`, `definedTags`).
* `GET /20160918/tenancies/{tenancyId}/regionSubscriptions` (ListRegionSubscriptions) -> a JSON
  list of RegionSubscription (`regionKey`, `regionName`, `status` READY|IN_PROGRESS,
  `isHomeRegion`), not paginated (the SDK takes no `page` for it).
* `GET /20160918/compartments/{compartmentId}` (GetCompartment) -> Compartment JSON; the tenancy
  itself is answered as the root compartment (its `compartmentId` is the tenancy id).
* `GET /20160918/compartments` (ListCompartments), query parameters with their wire names:
  `compartmentId` (required: 400 MissingParameter), `compartmentIdInSubtree` (`true`/`false`;
  `true` is only allowed when `compartmentId` is the tenancy - otherwise 400 InvalidParameter,
  as Oracle documents), `accessLevel` (`ANY` default | `ACCESSIBLE`, which hides compartments
  added with `accessible=False`), `lifecycleState` (CREATING|ACTIVE|INACTIVE|DELETING|DELETED,
  case-insensitive, as the SDK docstring says), `name` (exact match), `sortBy`
  (TIMECREATED|NAME; without it: insertion order - the fake's choice) and `sortOrder`
  (ASC|DESC; default DESC for TIMECREATED, ASC for NAME, as documented), `limit`, `page`.
  Without subtree only the direct children are listed; the compartment asked about (and the
  root) is never in the result. Compartment JSON: `id`, `compartmentId` (the parent), `name`,
  `description`, `timeCreated`, `lifecycleState`, `isAccessible`, `freeformTags`,
  `definedTags`.
* Paging: neither the SDK docstring nor the API reference states a default or maximum `limit`
  for ListCompartments. The fake answers `page_size` items (constructor, default 3, so tests see
  several pages) when `limit` is absent, caps `limit` at `max_limit` (default 1000) and rejects a
  `limit` that is not an integer >= 1 with 400 InvalidParameter. When more items remain the
  answer carries `opc-next-page`; `page` takes that opaque token (HMAC-signed, bound to the
  query it was minted for); any other token -> 400 InvalidParameter.

Checks, in order: no `authorization` header -> 401 NotAuthenticated (the signature itself is not
verified); unknown path -> 404 NotFound; unknown tenancy/compartment -> 404
NotAuthorizedOrNotFound; then the 400s above. Errors are OCI's JSON `{"code", "message"}`; every
answer carries `opc-request-id` (the client's, echoed, or a new one).

Scripted actions (`script([...])`, see `fakes`) are consumed one per request before the checks:
`429`, `(429, {"retry-after": "1"})`, `500`, `"reset"`, `"timeout"`, `("trickle", s)`, `"ok"`.
Every request is recorded in `requests` (`IdentityRequest`: operation, path, query, status).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from . import OCI_ERROR_CODES, FakeHandler, FakeHTTPServer, OciError, not_authenticated

__all__ = [
    "FakeCompartment",
    "FakeIdentity",
    "IdentityRequest",
    "RegionSubscription",
]

BASE = "/20160918"
_TENANCY_PATH = re.compile(r"^/20160918/tenancies/([^/]+)$")
_REGION_SUBS_PATH = re.compile(r"^/20160918/tenancies/([^/]+)/regionSubscriptions$")
_COMPARTMENT_PATH = re.compile(r"^/20160918/compartments/([^/]+)$")
_LIST_PATH = "/20160918/compartments"

LIFECYCLE_STATES = ("CREATING", "ACTIVE", "INACTIVE", "DELETING", "DELETED")
DEFAULT_MAX_LIMIT = 1000

_CODES = OCI_ERROR_CODES


@dataclass(frozen=True)
class RegionSubscription:
    """One region the tenancy is subscribed to (wire: regionName, regionKey, status, ...)."""

    name: str  #: e.g. "us-ashburn-1"
    key: str  #: e.g. "IAD"
    status: str = "READY"  #: READY | IN_PROGRESS
    is_home_region: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "regionKey": self.key,
            "regionName": self.name,
            "status": self.status,
            "isHomeRegion": self.is_home_region,
        }


@dataclass
class FakeCompartment:
    """A compartment of the fake tenancy (`parent_id` is the tenancy for top-level ones)."""

    id: str
    parent_id: str
    name: str
    lifecycle_state: str = "ACTIVE"
    accessible: bool = True
    time_created: datetime = field(default_factory=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    description: str = ""
    freeform_tags: dict[str, str] = field(default_factory=dict)
    defined_tags: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "compartmentId": self.parent_id,
            "name": self.name,
            "description": self.description,
            "timeCreated": _rfc3339(self.time_created),
            "lifecycleState": self.lifecycle_state,
            "isAccessible": self.accessible,
            "freeformTags": dict(self.freeform_tags),
            "definedTags": {k: dict(v) for k, v in self.defined_tags.items()},
        }


@dataclass
class IdentityRequest:
    """One request as the fake saw it (the authorization header is never stored)."""

    method: str
    path: str  #: path without the query string
    query: dict[str, str]  #: decoded query parameters (last value wins)
    operation: str | None = None  #: e.g. "ListCompartments"; None for unknown paths
    status: int | None = None  #: None when the connection was reset
    code: str | None = None  #: OCI error code answered, if any
    items: int = 0  #: list items answered
    next_page: str | None = None  #: the `opc-next-page` answered, if any
    action: str = "ok"


def _rfc3339(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _not_found() -> OciError:
    return OciError(
        404,
        "NotAuthorizedOrNotFound",
        "Authorization failed or requested resource not found.",
    )


def _operation(path: str) -> str | None:
    """The operation a path names (None for paths the fake does not serve)."""
    if _REGION_SUBS_PATH.match(path):
        return "ListRegionSubscriptions"
    if _TENANCY_PATH.match(path):
        return "GetTenancy"
    if _COMPARTMENT_PATH.match(path):
        return "GetCompartment"
    if path == _LIST_PATH:
        return "ListCompartments"
    return None


class _IdentityHandler(FakeHandler):
    owner: FakeIdentity  # type: ignore[assignment]

    def do_GET(self) -> None:
        owner = self.owner
        self.read_body()
        action = owner._next_action()
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request_id = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        rec = IdentityRequest(self.command, path, query, action=action.describe())
        rec.operation = _operation(path)
        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec)
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            self._error(
                rec, request_id, action.status, "Scripted failure", action.headers, action.body
            )
            return
        if action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                self._error(rec, request_id, owner.hang_status, "Scripted failure")
                return
        try:
            if self.command != "GET":
                raise OciError(404, "NotFound", "Unknown resource")
            if not self.headers.get("authorization"):
                raise not_authenticated()
            payload, headers = owner._route(rec)
        except OciError as exc:
            self._error(rec, request_id, exc.status, exc.message, code=exc.code)
            return
        rec.status = 200
        owner._record(rec)
        self.send_simple(
            200,
            json.dumps(payload).encode(),
            content_type="application/json",
            headers={"opc-request-id": request_id, **headers},
        )

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def _error(
        self,
        rec: IdentityRequest,
        request_id: str,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        code: str | None = None,
    ) -> None:
        rec.status = status
        rec.code = code or _CODES.get(status, "Error")
        self.owner._record(rec)
        self.send_oci_error(status, rec.code, message, request_id, headers, body)


class FakeIdentity(FakeHTTPServer):
    """Fake Identity endpoint. See the module docstring for the contract.

    Args:
        tenancy_id: the tenancy OCID (the root compartment).
        regions: region subscriptions - `RegionSubscription`s or `(name, key, status,
            is_home_region)` tuples; default: us-ashburn-1 (IAD), READY, home.
        compartments: `FakeCompartment`s to start with (more with `add_compartment`).
        tenancy_name / home_region_key: Tenancy fields (the home region key defaults to the
            subscription marked home).
        page_size: ListCompartments items per page when `limit` is absent (default 3).
        max_limit: the largest `limit` honoured (larger ones are capped), default 1000.
        hang_seconds / hang_status / host: see `fakes.FakeHTTPServer`.

    Attributes: `url`, `requests` (IdentityRequest per request), `compartments` (id ->
    FakeCompartment, insertion order), `regions`, `connections`, `errors`.
    Methods: `start()`, `stop()`, context manager, `script([...])`, `add_compartment(...)`,
    `count(operation)`, `clear()`.
    """

    handler_class: ClassVar[type[FakeHandler]] = _IdentityHandler

    def __init__(
        self,
        tenancy_id: str,
        regions: Iterable[RegionSubscription | tuple[Any, ...]] | None = None,
        compartments: Iterable[FakeCompartment] = (),
        *,
        tenancy_name: str = "acme",
        home_region_key: str | None = None,
        page_size: int = 3,
        max_limit: int = DEFAULT_MAX_LIMIT,
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        if page_size < 1 or max_limit < 1:
            raise ValueError("page_size and max_limit must be >= 1")
        self.tenancy_id = tenancy_id
        self.tenancy_name = tenancy_name
        if regions is None:
            regions = [RegionSubscription("us-ashburn-1", "IAD", "READY", True)]
        self.regions: list[RegionSubscription] = [
            r if isinstance(r, RegionSubscription) else RegionSubscription(*r) for r in regions
        ]
        for region in self.regions:
            if region.status not in ("READY", "IN_PROGRESS"):
                raise ValueError(f"region status must be READY or IN_PROGRESS: {region!r}")
        home = [r.key for r in self.regions if r.is_home_region]
        self.home_region_key = home_region_key or (home[0] if home else None)
        self.page_size = page_size
        self.max_limit = max_limit
        self.compartments: dict[str, FakeCompartment] = {}
        self.requests: list[IdentityRequest] = []
        self._secret = os.urandom(16)
        for compartment in compartments:
            self._add(compartment)

    # -- public helpers ------------------------------------------------------------------------
    def add_compartment(
        self,
        id: str,
        parent_id: str | None = None,
        name: str | None = None,
        *,
        lifecycle_state: str = "ACTIVE",
        accessible: bool = True,
        time_created: datetime | None = None,
        description: str = "",
        freeform_tags: Mapping[str, str] | None = None,
        defined_tags: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> FakeCompartment:
        """Add a compartment under `parent_id` (default: the tenancy); returns it.

        `time_created` defaults to 2020-01-01 plus one minute per compartment already added,
        so TIMECREATED ordering is deterministic.
        """
        if time_created is None:
            time_created = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
                minutes=len(self.compartments)
            )
        compartment = FakeCompartment(
            id=id,
            parent_id=parent_id or self.tenancy_id,
            name=name or id.rsplit(".", 1)[-1],
            lifecycle_state=lifecycle_state,
            accessible=accessible,
            time_created=time_created,
            description=description or f"compartment {name or id}",
            freeform_tags=dict(freeform_tags or {}),
            defined_tags={k: dict(v) for k, v in (defined_tags or {}).items()},
        )
        self._add(compartment)
        return compartment

    def count(self, operation: str | None = None) -> int:
        """Requests recorded (for `operation`, e.g. "ListCompartments", if given)."""
        with self._lock:
            return sum(1 for r in self.requests if operation is None or r.operation == operation)

    def clear(self) -> None:
        """Forget recorded requests (compartments, regions and the script are kept)."""
        with self._lock:
            self.requests.clear()

    # -- internals -----------------------------------------------------------------------------
    def _add(self, compartment: FakeCompartment) -> None:
        if compartment.lifecycle_state not in LIFECYCLE_STATES:
            raise ValueError(f"unknown lifecycle state {compartment.lifecycle_state!r}")
        with self._lock:
            if compartment.id in self.compartments or compartment.id == self.tenancy_id:
                raise ValueError(f"duplicate compartment {compartment.id}")
            if (
                compartment.parent_id != self.tenancy_id
                and compartment.parent_id not in self.compartments
            ):
                raise ValueError(f"unknown parent {compartment.parent_id} of {compartment.id}")
            self.compartments[compartment.id] = compartment

    def _record(self, rec: IdentityRequest) -> None:
        with self._lock:
            self.requests.append(rec)
        self._notify()

    def _route(self, rec: IdentityRequest) -> tuple[Any, dict[str, str]]:
        path = rec.path
        if match := _REGION_SUBS_PATH.match(path):
            if match.group(1) != self.tenancy_id:
                raise _not_found()
            items = [r.to_wire() for r in self.regions]
            rec.items = len(items)
            return items, {}
        if match := _TENANCY_PATH.match(path):
            if match.group(1) != self.tenancy_id:
                raise _not_found()
            return {
                "id": self.tenancy_id,
                "name": self.tenancy_name,
                "description": f"tenancy {self.tenancy_name}",
                "homeRegionKey": self.home_region_key,
                "freeformTags": {},
                "definedTags": {},
            }, {}
        if match := _COMPARTMENT_PATH.match(path):
            return self._get_compartment(match.group(1)), {}
        if path == _LIST_PATH:
            return self._list_compartments(rec)
        raise OciError(404, "NotFound", "Unknown resource")

    def _get_compartment(self, compartment_id: str) -> dict[str, Any]:
        if compartment_id == self.tenancy_id:
            return {
                "id": self.tenancy_id,
                "compartmentId": self.tenancy_id,
                "name": self.tenancy_name,
                "description": f"tenancy {self.tenancy_name}",
                "timeCreated": _rfc3339(datetime(2019, 1, 1, tzinfo=UTC)),
                "lifecycleState": "ACTIVE",
                "isAccessible": True,
                "freeformTags": {},
                "definedTags": {},
            }
        with self._lock:
            compartment = self.compartments.get(compartment_id)
        if compartment is None:
            raise _not_found()
        return compartment.to_wire()

    def _list_compartments(self, rec: IdentityRequest) -> tuple[Any, dict[str, str]]:
        query = rec.query
        known = {
            "compartmentId",
            "compartmentIdInSubtree",
            "accessLevel",
            "lifecycleState",
            "name",
            "sortBy",
            "sortOrder",
            "limit",
            "page",
        }
        unknown = sorted(set(query) - known)
        if unknown:
            raise OciError(400, "InvalidParameter", f"Unknown query parameters {unknown}")
        parent = query.get("compartmentId")
        if not parent:
            raise OciError(400, "MissingParameter", "compartmentId is required")
        subtree_raw = query.get("compartmentIdInSubtree", "false")
        if subtree_raw.lower() not in ("true", "false"):
            raise OciError(400, "InvalidParameter", "compartmentIdInSubtree must be true or false")
        subtree = subtree_raw.lower() == "true"
        access = query.get("accessLevel", "ANY")
        if access not in ("ANY", "ACCESSIBLE"):
            raise OciError(400, "InvalidParameter", "accessLevel must be ANY or ACCESSIBLE")
        state = query.get("lifecycleState")
        if state is not None:
            state = state.upper()
            if state not in LIFECYCLE_STATES:
                raise OciError(400, "InvalidParameter", f"Invalid lifecycleState {state!r}")
        sort_by = query.get("sortBy")
        if sort_by is not None and sort_by not in ("TIMECREATED", "NAME"):
            raise OciError(400, "InvalidParameter", "sortBy must be TIMECREATED or NAME")
        sort_order = query.get("sortOrder")
        if sort_order is not None and sort_order not in ("ASC", "DESC"):
            raise OciError(400, "InvalidParameter", "sortOrder must be ASC or DESC")
        limit = self.page_size
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                limit = 0
            if limit < 1:
                raise OciError(400, "InvalidParameter", "limit must be an integer >= 1")
            limit = min(limit, self.max_limit)
        with self._lock:
            if parent != self.tenancy_id and parent not in self.compartments:
                raise _not_found()
            if subtree and parent != self.tenancy_id:
                raise OciError(
                    400,
                    "InvalidParameter",
                    "compartmentIdInSubtree can only be true when compartmentId is the tenancy",
                )
            everything = list(self.compartments.values())
        # subtree: every compartment of the tenancy, at any depth; else the direct children
        items = everything if subtree else [c for c in everything if c.parent_id == parent]
        if access == "ACCESSIBLE":
            items = [c for c in items if c.accessible]
        if state is not None:
            items = [c for c in items if c.lifecycle_state == state]
        if "name" in query:
            items = [c for c in items if c.name == query["name"]]
        if sort_by is not None or sort_order is not None:
            by = sort_by or "TIMECREATED"
            descending = (sort_order or ("DESC" if by == "TIMECREATED" else "ASC")) == "DESC"
            if by == "NAME":
                items.sort(key=lambda c: c.name, reverse=descending)
            else:
                items.sort(key=lambda c: c.time_created, reverse=descending)
        signature = {k: v for k, v in sorted(query.items()) if k not in ("page", "limit")}
        offset = 0
        if "page" in query:
            offset = self._decode_token(query["page"], signature)
        page = items[offset : offset + limit]
        headers: dict[str, str] = {}
        if offset + limit < len(items):
            rec.next_page = self._mint_token(offset + limit, signature)
            headers["opc-next-page"] = rec.next_page
        rec.items = len(page)
        return [c.to_wire() for c in page], headers

    def _mint_token(self, offset: int, signature: Mapping[str, str]) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps({"o": offset, "q": signature}, sort_keys=True).encode()
        ).decode()
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{payload}.{mac}"

    def _decode_token(self, token: str, signature: Mapping[str, str]) -> int:
        invalid = OciError(400, "InvalidParameter", "Invalid page token")
        payload, _, mac = token.rpartition(".")
        expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:24]
        if not payload or not hmac.compare_digest(mac, expected):
            raise invalid
        doc = json.loads(base64.urlsafe_b64decode(payload))
        if doc.get("q") != dict(signature):
            raise OciError(400, "InvalidParameter", "The page token does not belong to this query")
        return int(doc["o"])
