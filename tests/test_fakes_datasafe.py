"""The Data Safe ListAuditEvents fake, driven by the real `oci.data_safe.DataSafeClient`."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import oci
import pytest
import requests
from fakes import FakeDataSafe, FakeIdentity
from fakes.data_safe import (
    AUDIT_EVENT_FIELDS,
    SORT_BY_VALUES,
    make_audit_event,
    parse_scim_filter,
)
from fakes.oci_auth import TEST_TENANCY, make_client

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 4, 8, 10, 0, tzinfo=UTC)
IAD, FRA = "us-ashburn-1", "eu-frankfurt-1"
PROD = "ocid1.compartment.oc1..prod"
PROD_APP = "ocid1.compartment.oc1..prod-app"
PROD_APP_EU = "ocid1.compartment.oc1..prod-app-eu"
SECRET = "ocid1.compartment.oc1..prod-secret"
SECRET_CHILD = "ocid1.compartment.oc1..prod-secret-child"
DEV = "ocid1.compartment.oc1..dev"
#: (id, parent, accessible): SECRET is not accessible, its child is
TREE = [
    (PROD, None, True),
    (PROD_APP, PROD, True),
    (PROD_APP_EU, PROD_APP, True),
    (SECRET, PROD, False),
    (SECRET_CHILD, SECRET, True),
    (DEV, None, True),
]


def iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def client_for(
    fake: FakeDataSafe, region: str | None = None, **kwargs: Any
) -> oci.data_safe.DataSafeClient:
    endpoint = fake.url if region is None else f"{fake.url}/{region}"
    return make_client(oci.data_safe.DataSafeClient, endpoint, **kwargs)


def all_events(client: oci.data_safe.DataSafeClient, *args: Any, **kwargs: Any) -> list[Any]:
    return oci.pagination.list_call_get_all_results(client.list_audit_events, *args, **kwargs).data


def add(
    fake: FakeDataSafe,
    compartment: str,
    n: int,
    *,
    region: str = IAD,
    start: datetime = T0,
    step: timedelta = timedelta(minutes=10),
    **kwargs: Any,
) -> list[str]:
    """n events collected at start + i*step (happened 30 s earlier); returns their ids."""
    ids = []
    for i in range(n):
        collected = start + i * step
        event = make_audit_event(
            audit_event_time=collected - timedelta(seconds=30),
            time_collected=collected,
            compartment_id=compartment,
            region=region,
            seed=f"{region}|{compartment}|{start}|{i}",
            **kwargs,
        )
        fake.add_event(region, compartment, event)
        ids.append(event["id"])
    return ids


def service_error(call: Any, *args: Any, **kwargs: Any) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        call(*args, **kwargs)
    return info.value


@pytest.fixture
def fake() -> Iterator[FakeDataSafe]:
    server = FakeDataSafe(IAD, tenancy_id=TEST_TENANCY, compartments=TREE, page_size=4)
    with server:
        yield server
    assert server.errors == []


@pytest.fixture
def client(fake: FakeDataSafe) -> oci.data_safe.DataSafeClient:
    return client_for(fake, IAD)


# --------------------------------------------------------------------------------------------
# Events: the model's shape, Database Vault records
# --------------------------------------------------------------------------------------------


def test_make_audit_event_has_exactly_the_model_fields() -> None:
    model = oci.data_safe.models.AuditEventSummary()
    assert list(AUDIT_EVENT_FIELDS) == list(model.attribute_map.values())
    kinds = {"str": "str", "datetime": "time", "bool": "bool", "int": "int"}
    for attr, wire in model.attribute_map.items():
        assert AUDIT_EVENT_FIELDS[wire] == kinds.get(model.swagger_types[attr], "map"), wire
    path = inspect.getsourcefile(oci.data_safe.DataSafeClient)
    assert path is not None
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    body = source[source.index("def list_audit_events(") :]
    allowed = re.search(r"sort_by_allowed_values = (\[.*?\])", body)
    assert allowed is not None
    assert list(SORT_BY_VALUES) == json.loads(allowed.group(1))
    event = make_audit_event(audit_event_time=T0, compartment_id=PROD, seed=1)
    assert list(event) == list(AUDIT_EVENT_FIELDS)
    assert event["id"].startswith("ocid1.datasafeauditevent.oc1.iad.")
    assert event["targetId"].startswith("ocid1.datasafetargetdatabase.oc1.iad.")
    assert event["auditEventTime"] == "2026-04-08T10:00:00.000Z"
    assert event["timeCollected"] > event["auditEventTime"]
    assert event == make_audit_event(audit_event_time=T0, compartment_id=PROD, seed=1)
    attrs = event["extendedEventAttributes"]
    assert "AUTHENTICATION_TYPE=(TYPE=(DATABASE));(CLIENT ADDRESS=((PROTOCOL=tcp)(HOST=" in attrs
    with pytest.raises(ValueError, match="wire name"):
        make_audit_event(audit_event_time=T0, compartment_id=PROD, overrides={"nope": 1})


def parse_extended(text: str) -> dict[str, str]:
    """Data Safe's KEY=VALUE::KEY=VALUE: split on '::', then on the FIRST '='."""
    pairs = (item.partition("=") for item in text.split("::"))
    return {key: value for key, _, value in pairs}


def test_database_vault_events_hold_dv_keys_and_hostile_values() -> None:
    actions = set()
    for seed in range(12):
        event = make_audit_event(
            audit_event_time=T0, compartment_id=PROD, database_vault=True, seed=seed
        )
        assert event["auditPolicies"] == "ORA_DV_AUDPOL"
        assert event["auditType"] == "DATABASE_VAULT"
        attrs = parse_extended(event["extendedEventAttributes"])
        for key in (
            "DV_ACTION_CODE",
            "DV_ACTION_NAME",
            "DV_EXTENDED_ACTION_CODE",
            "DV_GRANTEE",
            "DV_RETURN_CODE",
            "DV_ACTION_OBJECT_NAME",
            "DV_RULE_SET_NAME",
            "DV_COMMENT",
            "DV_FACTOR_CONTEXT",
            "DV_OBJECT_STATUS",
        ):
            assert key in attrs, key
        assert attrs["DV_ACTION_OBJECT_NAME"] == "HR Realm"
        assert attrs["DV_FACTOR_CONTEXT"].startswith('<?xml version="1.0"')
        assert attrs["DV_FACTOR_CONTEXT"].endswith("</Context>")
        assert '"' in attrs["DV_RULE_SET_NAME"]
        assert ";" in attrs["DV_RULE_SET_NAME"]
        comment = attrs["DV_COMMENT"]
        assert "=" in comment
        assert "(" in comment
        assert "Ünïcødé" in comment
        assert ":" in comment
        assert attrs["AUTHENTICATION_TYPE"].startswith("(TYPE=(DATABASE));(CLIENT ADDRESS=(")
        if attrs["DV_ACTION_NAME"] == "Realm Violation Audit":
            assert attrs["DV_RETURN_CODE"] == "1031"
            assert event["operationStatus"] == "FAILURE"
            assert event["errorCode"] == "1031"
        actions.add(attrs["DV_ACTION_NAME"])
    assert "Realm Violation Audit" in actions
    assert len(actions) >= 2


# --------------------------------------------------------------------------------------------
# Listing and paging through the SDK
# --------------------------------------------------------------------------------------------


def test_pages_with_the_sdk_in_time_collected_order(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    ids = add(fake, PROD, 10)
    events = all_events(client, PROD, sort_by="timeCollected", sort_order="ASC", limit=4)
    assert [e.id for e in events] == ids
    first = events[0]
    assert isinstance(first, oci.data_safe.models.AuditEventSummary)
    assert first.compartment_id == PROD
    assert first.time_collected == T0
    assert first.audit_event_time == T0 - timedelta(seconds=30)
    assert isinstance(first.is_alerted, bool)
    assert first.target_class == "DATABASE"
    assert first.freeform_tags["team"] == "sécurité"
    reqs = fake.requests_for(compartment_id=PROD)
    assert [r.items for r in reqs] == [4, 4, 2]
    assert [r.status for r in reqs] == [200, 200, 200]
    assert reqs[0].page is None
    assert reqs[1].page == reqs[0].next_page
    assert reqs[2].next_page is None
    assert (reqs[0].region, reqs[0].sort_by, reqs[0].sort_order, reqs[0].limit) == (
        IAD,
        "timeCollected",
        "ASC",
        4,
    )
    assert reqs[0].subtree is None
    assert reqs[0].compartments == (PROD,)
    assert reqs[0].elapsed >= 0
    # the helper answers the same
    assert [
        e["id"] for e in fake.list_events(IAD, PROD, sort_by="timeCollected", sort_order="ASC")
    ] == ids


def test_skip_deserialization_returns_the_wire_collection(fake: FakeDataSafe) -> None:
    ids = add(fake, PROD, 5, database_vault=True)
    raw_client = client_for(fake, IAD, skip_deserialization=True)
    got: list[dict[str, Any]] = []
    page = None
    while True:
        kwargs: dict[str, Any] = {"sort_by": "timeCollected", "sort_order": "ASC", "limit": 2}
        if page:
            kwargs["page"] = page
        resp = raw_client.list_audit_events(PROD, **kwargs)
        assert set(resp.data) == {"items"}
        got.extend(resp.data["items"])
        page = resp.headers.get("opc-next-page")
        if not page:
            break
    assert [e["id"] for e in got] == ids
    assert all(list(e) == list(AUDIT_EVENT_FIELDS) for e in got)
    assert got[0]["timeCollected"] == "2026-04-08T10:00:00.000Z"
    assert got[0]["auditType"] == "DATABASE_VAULT"
    assert "DV_FACTOR_CONTEXT=<?xml" in got[0]["extendedEventAttributes"]


def test_limit_default_cap_and_validation(fake: FakeDataSafe) -> None:
    add(fake, DEV, 6)
    client = client_for(fake)
    assert len(client.list_audit_events(DEV).data.items) == 4  # page_size
    fake.max_limit = 5
    resp = client.list_audit_events(DEV, limit=2773)
    assert len(resp.data.items) == 5
    assert resp.headers["opc-next-page"]
    err = service_error(client.list_audit_events, DEV, limit=0)
    assert (err.status, err.code) == (400, "InvalidParameter")
    # what the SDK never sends: raw requests (signed-looking: the fake checks presence only)
    auth = {"authorization": 'Signature version="1",keyId="x"'}
    url = f"{fake.url}/20181201/auditEvents"
    missing = requests.get(url, headers=auth, timeout=5)
    assert (missing.status_code, missing.json()["code"]) == (400, "MissingParameter")
    unknown = requests.get(url, params={"compartmentId": DEV, "x": "1"}, headers=auth, timeout=5)
    assert unknown.status_code == 400
    assert "x" in unknown.json()["message"]
    bad_sort = requests.get(
        url, params={"compartmentId": DEV, "sortBy": "id"}, headers=auth, timeout=5
    )
    assert bad_sort.status_code == 400
    unsigned = requests.get(url, params={"compartmentId": DEV}, timeout=5)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "NotAuthenticated")
    assert unsigned.headers["opc-request-id"]
    other = requests.get(f"{fake.url}/20181201/targetDatabases", headers=auth, timeout=5)
    assert other.status_code == 404


def test_paging_is_stable_when_events_arrive_between_pages(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    ids = add(fake, PROD, 6)  # collected T0, +10, ..., +50 min
    kwargs: dict[str, Any] = {"sort_by": "timeCollected", "sort_order": "ASC", "limit": 3}
    first = client.list_audit_events(PROD, **kwargs)
    assert [e.id for e in first.data.items] == ids[:3]
    # one collected before the page boundary (a late arrival), one after the last
    early = add(fake, PROD, 1, start=T0 + timedelta(minutes=5))
    late = add(fake, PROD, 1, start=T0 + timedelta(hours=2))
    rest = all_events(client, PROD, page=first.headers["opc-next-page"], **kwargs)
    assert [e.id for e in rest] == ids[3:] + late
    assert early[0] not in [e.id for e in rest]
    # a fresh listing sees everything, in order
    assert [e.id for e in all_events(client, PROD, **kwargs)] == [
        ids[0],
        early[0],
        *ids[1:],
        *late,
    ]
    # tokens are bound to their query and tamper-proof
    token = first.headers["opc-next-page"]
    err = service_error(
        client.list_audit_events, PROD, page=token, sort_by="timeCollected", sort_order="DESC"
    )
    assert (err.status, err.code) == (400, "InvalidParameter")
    tampered = token[:-1] + ("1" if token.endswith("0") else "0")  # always a changed signature
    err = service_error(client.list_audit_events, PROD, page=tampered, **kwargs)
    assert err.status == 400
    err = service_error(client.list_audit_events, PROD, page="EXAMPLE-page-Value", **kwargs)
    assert err.status == 400
    # a page token survives a different limit
    assert len(client.list_audit_events(PROD, page=token, **{**kwargs, "limit": 1}).data.items)


def test_sorting(fake: FakeDataSafe, client: oci.data_safe.DataSafeClient) -> None:
    users = ["SCOTT", None, "ADMIN", "APP_USER", None]
    ids = []
    for i, user in enumerate(users):
        event = make_audit_event(
            # auditEventTime order is the reverse of timeCollected order
            audit_event_time=T0 - timedelta(minutes=i),
            time_collected=T0 + timedelta(minutes=i),
            compartment_id=DEV,
            seed=i,
            overrides={"dbUserName": user},
        )
        ids.append(fake.add_event(IAD, DEV, event)["id"])

    def order(**kwargs: Any) -> list[str]:
        return [e.id for e in all_events(client, DEV, **kwargs)]

    assert order(sort_by="timeCollected", sort_order="ASC") == ids
    assert order(sort_by="timeCollected", sort_order="DESC") == ids[::-1]
    assert order(sort_by="auditEventTime", sort_order="ASC") == ids[::-1]
    # defaults (undocumented; the fake's choice): auditEventTime, DESC for time fields
    assert order() == ids
    assert order(sort_by="timeCollected") == ids[::-1]
    # strings ASC by default, nulls last (first in DESC), ties by id
    nulls = sorted([ids[1], ids[4]])
    assert order(sort_by="dbUserName") == [ids[2], ids[3], ids[0], *nulls]
    assert order(sort_by="dbUserName", sort_order="DESC") == [*nulls[::-1], ids[0], ids[3], ids[2]]
    assert order(sort_by="dbUserName", sort_order="ASC", limit=1) == order(sort_by="dbUserName")


# --------------------------------------------------------------------------------------------
# Compartments: subtree and access level
# --------------------------------------------------------------------------------------------


def test_subtree_and_access_level(fake: FakeDataSafe, client: oci.data_safe.DataSafeClient) -> None:
    by_comp = {c: add(fake, c, 1) for c in [TEST_TENANCY] + [t[0] for t in TREE]}

    def listed(compartment: str, **kwargs: Any) -> set[str]:
        return {e.id for e in all_events(client, compartment, **kwargs)}

    def ids_of(*comps: str) -> set[str]:
        return {i for c in comps for i in by_comp[c]}

    # the seed-000 trap: the root compartment alone holds nothing of its subcompartments
    assert listed(TEST_TENANCY) == ids_of(TEST_TENANCY)
    assert listed(TEST_TENANCY, access_level="ACCESSIBLE") == ids_of(TEST_TENANCY)
    assert listed(PROD) == ids_of(PROD)
    # subtree + ACCESSIBLE: the compartment and every accessible descendant (an accessible
    # compartment under an inaccessible one included)
    everything_but_secret = ids_of(TEST_TENANCY, PROD, PROD_APP, PROD_APP_EU, SECRET_CHILD, DEV)
    assert (
        listed(TEST_TENANCY, compartment_id_in_subtree=True, access_level="ACCESSIBLE")
        == everything_but_secret
    )
    assert listed(PROD, compartment_id_in_subtree=True, access_level="ACCESSIBLE") == ids_of(
        PROD, PROD_APP, PROD_APP_EU, SECRET_CHILD
    )
    rec = fake.requests[-1]
    assert (rec.subtree, rec.access_level) == (True, "ACCESSIBLE")
    assert set(rec.compartments) == {PROD, PROD_APP, PROD_APP_EU, SECRET_CHILD}
    # subtree + RESTRICTED (the default): all or nothing
    err = service_error(client.list_audit_events, TEST_TENANCY, compartment_id_in_subtree=True)
    assert (err.status, err.code) == (404, "NotAuthorizedOrNotFound")
    assert listed(PROD_APP, compartment_id_in_subtree=True) == ids_of(PROD_APP, PROD_APP_EU)
    assert listed(PROD_APP, compartment_id_in_subtree=True, access_level="RESTRICTED") == ids_of(
        PROD_APP, PROD_APP_EU
    )
    # inaccessible or unknown compartments
    for compartment in (SECRET, "ocid1.compartment.oc1..nope"):
        err = service_error(client.list_audit_events, compartment)
        assert (err.status, err.code) == (404, "NotAuthorizedOrNotFound")
    assert listed(SECRET_CHILD) == ids_of(SECRET_CHILD)
    # the other documented answer to RESTRICTED
    fake.restricted_denial_status = 403
    err = service_error(client.list_audit_events, PROD, compartment_id_in_subtree=True)
    assert (err.status, err.code) == (403, "NotAuthorized")


def test_compartments_from_a_fake_identity() -> None:
    identity = FakeIdentity(TEST_TENANCY)  # not started: only its compartments are read
    identity.add_compartment(PROD, name="prod")
    identity.add_compartment(PROD_APP, PROD, "app")
    identity.add_compartment(SECRET, PROD, "secret", accessible=False)
    with FakeDataSafe(identity=identity) as fake:
        assert fake.tenancy_id == TEST_TENANCY
        root = add(fake, TEST_TENANCY, 1)
        app = add(fake, PROD_APP, 2)
        identity.add_compartment(DEV, name="dev")  # read live
        dev = add(fake, DEV, 1)
        client = client_for(fake)
        got = all_events(
            client,
            TEST_TENANCY,
            compartment_id_in_subtree=True,
            access_level="ACCESSIBLE",
            sort_by="timeCollected",
            sort_order="ASC",
        )
        assert sorted(e.id for e in got) == sorted(root + app + dev)
        with pytest.raises(ValueError, match="unknown compartment"):
            add(fake, "ocid1.compartment.oc1..nope", 1)
        assert fake.errors == []


# --------------------------------------------------------------------------------------------
# scimQuery
# --------------------------------------------------------------------------------------------


def test_scim_time_collected_windows(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    ids = add(fake, PROD, 12)  # collected T0 + 0, 10, ..., 110 min

    def query(scim: str) -> list[str]:
        return [
            e.id
            for e in all_events(
                client, PROD, scim_query=scim, sort_by="timeCollected", sort_order="ASC"
            )
        ]

    at = {m: iso(T0 + timedelta(minutes=m)) for m in range(0, 130, 10)}
    window = f'timeCollected ge "{at[30]}" and timeCollected lt "{at[60]}"'
    assert query(window) == ids[3:6]
    assert fake.requests[-1].scim_query == window
    # the same instants written with an offset and other precisions
    offsets = 'timeCollected ge "2026-04-08T12:30:00+02:00"'
    offsets += ' and timeCollected lt "2026-04-08T11:00:00.000000Z"'
    assert query(offsets) == ids[3:6]
    assert query('timeCollected gt "2026-04-08T10:30:00Z"') == ids[4:]
    assert query('timeCollected le "2026-04-08"') == []
    assert query('timeCollected ge "2026-04-08"') == ids
    # or, not, parentheses, case-insensitive keywords and operators
    assert query(f'(timeCollected lt "{at[20]}") or (timeCollected GE "{at[100]}")') == (
        ids[:2] + ids[10:]
    )
    assert query(f'not (timeCollected lt "{at[90]}")') == ids[9:]
    assert (
        query(
            f'timeCollected ge "{at[10]}" AND NOT (timeCollected ge "{at[30]}" and '
            f'timeCollected lt "{at[100]}") and timeCollected lt "{at[110]}"'
        )
        == ids[1:3] + ids[10:11]
    )
    # "and" binds tighter than "or"
    assert query(
        f'timeCollected lt "{at[10]}" or timeCollected ge "{at[50]}" and '
        f'timeCollected lt "{at[60]}"'
    ) == [ids[0], ids[5]]
    # scim filters combine with paging
    paged = all_events(
        client,
        PROD,
        scim_query=f'timeCollected ge "{at[20]}"',
        sort_by="timeCollected",
        sort_order="ASC",
        limit=3,
    )
    assert [e.id for e in paged] == ids[2:]


def test_scim_strings_numbers_booleans_and_nulls(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    specs = [
        {"targetName": 'hr "blue" \\ db', "eventName": "LOGON", "isAlerted": True},
        {"targetName": "Zoë-prod", "eventName": "LOGOFF", "errorCode": "1017"},
        {"targetName": "dev;db=(1)", "eventName": "SELECT", "peerTargetDatabaseKey": 2},
        {"dbUserName": "SYS", "objectOwner": "HR", "objectName": "EMPLOYEES"},
    ]
    ids = []
    for i, overrides in enumerate(specs):
        base = {"isAlerted": False, "errorCode": None, "peerTargetDatabaseKey": None}
        base.update({"dbUserName": "APP_USER", "objectOwner": None, "objectName": None})
        event = make_audit_event(
            audit_event_time=T0 + timedelta(minutes=i),
            time_collected=T0 + timedelta(minutes=i),
            compartment_id=DEV,
            seed=i,
            overrides={**base, **overrides},
        )
        ids.append(fake.add_event(IAD, DEV, event)["id"])

    def query(scim: str) -> list[str]:
        return [
            e.id
            for e in all_events(
                client, DEV, scim_query=scim, sort_by="timeCollected", sort_order="ASC"
            )
        ]

    assert query(r'targetName eq "hr \"blue\" \\ db"') == ids[:1]
    assert query(r'targetName eq "Zo\u00eb-prod"') == ids[1:2]
    assert query('targetName eq "zoë-prod"') == []  # case-sensitive
    assert query('targetName co ";db=("') == ids[2:3]
    assert query('targetName sw "hr "') == ids[:1]
    assert query('targetName ew "-prod"') == ids[1:2]
    assert query('eventName eq "LOGON" or eventName eq "SELECT"') == [ids[0], ids[2]]
    assert query('eventName ne "LOGON"') == ids[1:]
    assert query("isAlerted eq true") == ids[:1]
    assert query("isAlerted eq false") == ids[1:]
    assert query("peerTargetDatabaseKey ge 2") == ids[2:3]
    assert query("errorCode pr") == ids[1:2]
    assert query("errorCode eq null") == [ids[0], ids[2], ids[3]]
    assert query('errorCode ne "1017"') == []  # null fails every comparison
    assert query("adminUser eq 1") == ids[3:]
    assert query("sensitiveActivity eq 1") == ids[3:]
    # the SDK docstring's example
    assert query(f'(auditEventTime ge "{iso(T0)}") and (eventName eq "LOGON")') == ids[:1]
    # the parser also works on plain dicts
    match = parse_scim_filter('targetName sw "dev" and not (isAlerted eq true)')
    assert match({"targetName": "dev;db=(1)", "isAlerted": False})


INVALID_FILTERS = [
    ('foo eq "x"', "'foo'"),
    ("timeCollected ge 2021", "quoted"),
    ('timeCollected ge "yesterday"', "yesterday"),
    ('timeCollected co "2026"', "'co'"),
    ('eventName eq "unterminated', "unterminated"),
    ('eventName eq "a" and', "end of filter"),
    ('(eventName eq "a"', "')'"),
    ('eventName like "a"', "'like'"),
    ('eventName eq "a" eventName eq "b"', "'eventName'"),
    ("eventName eq 'single'", '"\'"'),
    ('not eventName eq "a"', "'('"),
    ("isAlerted gt true", "'gt'"),
    ('isAlerted eq "true"', "true or false"),
    ("eventName eq 42", "quoted string"),
    ("adminUser eq 2", "adminUser"),
    ('emails[type eq "work"]', "attr[...]"),
    ("freeformTags pr", "freeformTags"),
    (r'eventName eq "bad \q escape"', "\\\\q"),
    ("", "empty"),
]


def test_invalid_scim_filters_are_400_naming_the_culprit(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    for scim, named in INVALID_FILTERS:
        err = service_error(client.list_audit_events, PROD, scim_query=scim)
        assert (err.status, err.code) == (400, "InvalidParameter"), scim
        assert "scimQuery" in err.message
        assert named in err.message, (scim, err.message)
        assert fake.requests[-1].status == 400
        assert fake.requests[-1].scim_query == scim
    assert len(fake.requests) == len(INVALID_FILTERS)


def test_late_collected_events_are_found_by_time_collected_only(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    on_time = make_audit_event(
        audit_event_time=T0 + timedelta(minutes=1),
        time_collected=T0 + timedelta(minutes=2),
        compartment_id=PROD,
        seed="on-time",
    )
    late = make_audit_event(
        audit_event_time=T0 + timedelta(minutes=5) - timedelta(days=1),
        time_collected=T0 + timedelta(minutes=5),
        compartment_id=PROD,
        database_vault=True,
        seed="late",
    )
    fake.add_event(IAD, PROD, on_time)
    fake.add_event(IAD, PROD, late)
    start, end = iso(T0), iso(T0 + timedelta(hours=1))

    def window(field: str) -> list[str]:
        scim = f'{field} ge "{start}" and {field} lt "{end}"'
        events = all_events(client, PROD, scim_query=scim, sort_by=field, sort_order="ASC")
        return [e.id for e in events]

    assert window("timeCollected") == [on_time["id"], late["id"]]
    assert window("auditEventTime") == [on_time["id"]]


# --------------------------------------------------------------------------------------------
# Regions, faults, load
# --------------------------------------------------------------------------------------------


def test_routes_regions_by_path_prefix() -> None:
    with FakeDataSafe(IAD, regions=[IAD, FRA], compartments=[(PROD, None)]) as fake:
        iad = add(fake, PROD, 2, region=IAD)
        fra = add(fake, PROD, 3, region=FRA)
        kwargs: dict[str, Any] = {"sort_by": "timeCollected", "sort_order": "ASC"}
        assert [e.id for e in all_events(client_for(fake, FRA), PROD, **kwargs)] == fra
        assert [e.id for e in all_events(client_for(fake), PROD, **kwargs)] == iad
        assert [e.id for e in all_events(client_for(fake, IAD), PROD, **kwargs)] == iad
        assert [r.region for r in fake.requests] == [FRA, IAD, IAD]
        assert fake.requests[0].path == "/eu-frankfurt-1/20181201/auditEvents"
        assert fake.requests[1].path == "/20181201/auditEvents"
        err = service_error(client_for(fake, "ap-tokyo-1").list_audit_events, PROD)
        assert (err.status, err.code) == (404, "NotFound")
        assert fake.errors == []


def test_throttling_and_failing_compartments(
    fake: FakeDataSafe, client: oci.data_safe.DataSafeClient
) -> None:
    add(fake, PROD, 2)
    add(fake, DEV, 1)
    fake.throttle(1, retry_after=7)
    err = service_error(client.list_audit_events, PROD)
    assert (err.status, err.code) == (429, "TooManyRequests")
    assert err.headers["retry-after"] == "7"
    assert len(client.list_audit_events(PROD).data.items) == 2
    fake.throttle_every = 2
    statuses = []
    for _ in range(4):
        try:
            statuses.append(client.list_audit_events(PROD).status)
        except oci.exceptions.ServiceError as exc:
            statuses.append((exc.status, exc.headers["retry-after"]))
    assert statuses == [(429, "1"), 200, (429, "1"), 200]
    fake.throttle_every = None
    fake.fail_compartments.add(PROD_APP)
    for _ in range(2):
        err = service_error(client.list_audit_events, PROD_APP)
        assert (err.status, err.code) == (500, "InternalServerError")
    # a subtree listing that covers the failing compartment fails too
    err = service_error(
        client.list_audit_events, PROD, compartment_id_in_subtree=True, access_level="ACCESSIBLE"
    )
    assert err.status == 500
    assert len(client.list_audit_events(PROD).data.items) == 2
    assert len(client.list_audit_events(DEV).data.items) == 1
    fake.script(["reset", (503, "busy")])
    with pytest.raises(oci.exceptions.RequestException):
        client.list_audit_events(DEV)
    assert service_error(client.list_audit_events, DEV).status == 503
    assert [r.action for r in fake.requests[-2:]] == ["reset", "503"]


def test_latency_and_in_flight(fake: FakeDataSafe) -> None:
    add(fake, PROD, 1)
    fake.latency = 0.3
    clients = [client_for(fake, IAD) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: c.list_audit_events(PROD).data.items, clients))
    assert [len(r) for r in results] == [1, 1, 1, 1]
    assert fake.max_in_flight >= 2
    assert fake.in_flight == 0
    assert all(r.elapsed >= 0.3 for r in fake.requests)
    fake.clear()
    assert fake.requests == []
    assert fake.max_in_flight == 0
