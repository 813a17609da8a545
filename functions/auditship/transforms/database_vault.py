"""Database Vault detail, the same whichever way a record came (Data Safe's audit events,
or exports of `UNIFIED_AUDIT_TRAIL` / `DVSYS.AUDIT_TRAIL$`), so one search finds them all.

A record is a Database Vault record when its audit policies name `ORA_DV_AUDPOL` (or
`ORA_DV_AUDPOL2`), its audit type is `DATABASE_VAULT`, or it carries `DV_*` attributes.
Such a record gets:

    "databaseVault": {             # the marker: present only on Database Vault records
        "action":        DV_ACTION_NAME      (AUDIT_TRAIL$: ACTION_NAME)
        "actionCode":    DV_ACTION_CODE      (AUDIT_TRAIL$: ACTION)
        "ruleSet":       DV_RULE_SET_NAME    (AUDIT_TRAIL$: RULE_SET_NAME)
        "rule":          DV_RULE_NAME        (AUDIT_TRAIL$: RULE_NAME; Oracle: "not used")
        "returnCode":    DV_RETURN_CODE      (AUDIT_TRAIL$: RETURNCODE)
        "object":        DV_ACTION_OBJECT_NAME (AUDIT_TRAIL$: ACTION_OBJECT_NAME: the realm,
                                               command rule or factor)
        "factorContext": DV_FACTOR_CONTEXT   (AUDIT_TRAIL$: FACTOR_CONTEXT, an XML document)
        "comment":       DV_COMMENT          (AUDIT_TRAIL$: COMMENT_TEXT)
        "grantee":       DV_GRANTEE
        "objectStatus":  DV_OBJECT_STATUS
        "extendedActionCode": DV_EXTENDED_ACTION_CODE
    }

(seed 003: Table A-1 of `DVSYS.AUDIT_TRAIL$`; the unified trail's DV_* columns). Only the
fields found are set; values are kept as they came (strings stay strings). Names are
matched without regard to case, because exports and Data Safe write them differently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MARKER = "databaseVault"
DV_POLICIES = ("ORA_DV_AUDPOL", "ORA_DV_AUDPOL2")

# stable name -> the source names it is read from, first found wins
FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("action", ("DV_ACTION_NAME", "ACTION_NAME")),
    ("actionCode", ("DV_ACTION_CODE", "ACTION")),
    ("ruleSet", ("DV_RULE_SET_NAME", "RULE_SET_NAME")),
    ("rule", ("DV_RULE_NAME", "RULE_NAME")),
    ("returnCode", ("DV_RETURN_CODE", "RETURNCODE")),
    ("object", ("DV_ACTION_OBJECT_NAME", "ACTION_OBJECT_NAME")),
    ("factorContext", ("DV_FACTOR_CONTEXT", "FACTOR_CONTEXT")),
    ("comment", ("DV_COMMENT", "COMMENT_TEXT")),
    ("grantee", ("DV_GRANTEE",)),
    ("objectStatus", ("DV_OBJECT_STATUS",)),
    ("extendedActionCode", ("DV_EXTENDED_ACTION_CODE",)),
)
_NULLS = ("", "null", "NULL")


def is_database_vault(policies: object, audit_type: object, names: Mapping[str, Any]) -> bool:
    if isinstance(policies, str) and any(p in policies.upper() for p in DV_POLICIES):
        return True
    # Data Safe writes DATABASE_VAULT; UNIFIED_AUDIT_TRAIL.AUDIT_TYPE says "Database Vault".
    if isinstance(audit_type, str) and audit_type.upper().replace(" ", "_") == "DATABASE_VAULT":
        return True
    return any(str(k).upper().startswith("DV_") for k in names)


def vault_detail(*sources: Mapping[str, Any], trail_columns: bool = False) -> dict[str, Any]:
    """The stable DV fields found in `sources` (searched in order, names in any case).
    The plain `AUDIT_TRAIL$` names (ACTION, ACTION_NAME, ...) are read only when
    `trail_columns` is set: elsewhere `ACTION` means something else."""
    upper = [{str(k).upper(): v for k, v in s.items()} for s in sources]
    return vault_detail_upper(upper, trail_columns)


def vault_detail_upper(
    upper: Sequence[Mapping[str, Any]], trail_columns: bool = False
) -> dict[str, Any]:
    """`vault_detail` of sources whose keys are upper case already (export rows)."""
    detail: dict[str, Any] = {}
    for stable, names in FIELDS:
        for name in names if trail_columns else names[:1]:
            for source in upper:
                value = source.get(name)
                if value is not None and value not in _NULLS:
                    detail[stable] = value
                    break
            if stable in detail:
                break
    return detail
