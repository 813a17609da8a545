"""Normalizer: event time, wrapper unwrapping, action filter, redaction; nothing else changes."""

from __future__ import annotations

import copy
from typing import Any

from auditgen import records
from auditship.config import Settings
from auditship.transforms.normalize import REDACTED, NormalizeOptions, Normalizer, epoch_to_rfc3339
from hypothesis import given
from hypothesis import strategies as st


def sample() -> dict[str, Any]:
    return next(records(seed=5))


def strip_redacted(rec: dict[str, Any]) -> dict[str, Any]:
    rec = copy.deepcopy(rec)
    rec["data"]["identity"].pop("credentials")
    for h in ("Authorization", "opc-principal"):
        rec["data"]["request"]["headers"].pop(h)
    return rec


def test_redacts_credentials_and_keeps_every_other_field() -> None:
    rec = sample()
    original = copy.deepcopy(rec)
    out, when = Normalizer()(rec)  # type: ignore[misc]
    assert when == original["time"]
    assert out["data"]["identity"]["credentials"] == REDACTED
    assert out["data"]["request"]["headers"]["Authorization"] == [REDACTED]
    assert out["data"]["request"]["headers"]["opc-principal"] == [REDACTED]
    assert strip_redacted(out) == strip_redacted(original)


def test_header_names_match_in_any_case() -> None:
    rec = sample()
    rec["data"]["request"]["headers"]["AUTHORIZATION"] = ["secret"]
    out, _ = Normalizer()(rec)  # type: ignore[misc]
    assert out["data"]["request"]["headers"]["AUTHORIZATION"] == [REDACTED]


def test_redaction_can_be_turned_off() -> None:
    rec = sample()
    original = copy.deepcopy(rec)
    out, _ = Normalizer(NormalizeOptions(redact_paths=()))(rec)  # type: ignore[misc]
    assert out == original


def test_wrapper_is_unwrapped_and_its_datetime_is_the_fallback_time() -> None:
    inner = sample()
    del inner["time"]
    out, when = Normalizer()({"datetime": 1760956873812, "logContent": inner})  # type: ignore[misc]
    assert out is inner
    assert when == "2025-10-20T10:41:13.812Z"


def test_audit_api_shape_uses_event_time() -> None:
    out = Normalizer()({"eventTime": "2026-01-01T00:00:00Z", "data": {}})
    assert out is not None
    assert out[1] == "2026-01-01T00:00:00Z"


def test_record_without_time_has_none() -> None:
    assert Normalizer()({"data": {}}) == ({"data": {}}, None)


def test_action_filter_is_off_by_default_and_case_insensitive_when_on() -> None:
    rec = sample()
    rec["data"]["request"]["action"] = "get"
    assert Normalizer()(copy.deepcopy(rec)) is not None
    only_writes = Normalizer(NormalizeOptions(actions=frozenset({"POST", "PUT", "DELETE"})))
    assert only_writes(copy.deepcopy(rec)) is None
    rec["data"]["request"]["action"] = "delete"
    assert only_writes(rec) is not None


def test_settings_parse_redaction_and_filter() -> None:
    s = Settings.from_mapping({"REDACT_PATHS": "default,data.foo", "FILTER_ACTIONS": "post, put"})
    assert "data.foo" in s.redact_paths
    assert "data.identity.credentials" in s.redact_paths
    assert s.filter_actions == frozenset({"POST", "PUT"})
    assert Settings.from_mapping({"REDACT_PATHS": "none"}).redact_paths == ()


@given(ms=st.integers(min_value=10**12, max_value=4 * 10**12))
def test_epoch_millis_render_as_rfc3339_utc(ms: int) -> None:
    text = epoch_to_rfc3339(ms)
    assert text.endswith("Z")
    assert len(text) == len("2025-10-20T10:41:13.812Z")
