"""Settings: one error naming every bad key; defaults that match the documented limits."""

from __future__ import annotations

import pytest
from auditship.config import Settings
from auditship.errors import ConfigError


def test_defaults() -> None:
    s = Settings.from_mapping({})
    assert s.logzio_url == "https://listener.logz.io:8071"
    assert s.logzio_type == "oci-audit"
    assert s.logzio_max_batch_bytes <= 10_485_760
    assert s.logzio_max_line_bytes == 500_000
    assert s.dead_letter_prefix == "dead-letter/"
    assert s.filter_actions is None


def test_every_invalid_key_is_named_in_one_error() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(
            {
                "LOGZIO_URL": "listener.logz.io",
                "LOGZIO_MAX_BATCH_BYTES": "20000000",
                "LOGZIO_TYPE": "has space",
                "OCI_LOG_ID": "not-an-ocid",
                "LOGZIO_TOKEN_SECRET_OCID": "ocid1.key.oc1..x",
            }
        )
    message = str(info.value)
    for key in (
        "LOGZIO_URL",
        "LOGZIO_MAX_BATCH_BYTES",
        "LOGZIO_TYPE",
        "OCI_LOG_ID",
        "LOGZIO_TOKEN_SECRET_OCID",
    ):
        assert key in message


def test_token_is_not_in_the_repr() -> None:
    s = Settings.from_mapping({"LOGZIO_TOKEN": "sekrit-token-value"})
    assert "sekrit-token-value" not in repr(s)


def test_prefixes_get_a_trailing_slash() -> None:
    assert Settings.from_mapping({"DEAD_LETTER_PREFIX": "dlq"}).dead_letter_prefix == "dlq/"
