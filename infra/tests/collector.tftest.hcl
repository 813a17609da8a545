# The optional audit collector (collector.tf, its IAM in iam.tf, its lifecycle rule in
# storage.tf), against mocked OCI: nothing is created, no credentials needed.

mock_provider "oci" {
  mock_data "oci_objectstorage_namespace" {
    defaults = {
      namespace = "testns"
    }
  }
}

mock_provider "oci" {
  alias = "home"
}

variables {
  tenancy_ocid             = "ocid1.tenancy.oc1..aaaatenancy"
  compartment_ocid         = "ocid1.compartment.oc1..aaaapipeline"
  region                   = "eu-frankfurt-1"
  subnet_ocid              = "ocid1.subnet.oc1.eu-frankfurt-1.aaaasubnet"
  logzio_image             = "fra.ocir.io/testns/audit-ship/logzio-shipper:0.1.0"
  logging_image            = "fra.ocir.io/testns/audit-ship/oci-logging-shipper:0.1.0"
  logzio_token_secret_ocid = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret"
}

run "collector_off_by_default" {
  command = plan

  assert {
    condition = (
      length(oci_functions_function.collector) == 0 && length(oci_identity_dynamic_group.collector) == 0 &&
      length(oci_identity_policy.collector) == 0 && !contains(keys(oci_resource_scheduler_schedule.job), "audit-collector-catch-up") &&
      !contains(keys(oci_identity_policy.schedule), "audit-collector-catch-up")
    )
    error_message = "nothing of the collector is created unless audit_collector_enabled"
  }
  assert {
    condition     = output.audit_collector_function_id == null && output.audit_collector_backfill_command == null
    error_message = "collector outputs are null when it is off"
  }
}

run "collector_defaults" {
  command = apply

  variables {
    audit_collector_enabled = true
    audit_collector_image   = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
  }

  # --- the function ---
  assert {
    condition = (
      oci_functions_function.collector[0].display_name == "audit-collector" &&
      oci_functions_function.collector[0].application_id == oci_functions_application.this.id &&
      oci_functions_function.collector[0].image == var.audit_collector_image &&
      oci_functions_function.collector[0].memory_in_mbs == "512" &&
      oci_functions_function.collector[0].timeout_in_seconds == 300
    )
    error_message = "audit-collector: in the application, from its image, 512 MB, 300 s"
  }
  assert {
    condition = oci_functions_function.collector[0].config == tomap({
      SINK                     = "logzio"
      STATE_DIR                = "oci://testns/audit-ship-audit/shipped/logzio/collectors/"
      COLLECT_CONCURRENCY      = "16"
      COLLECT_LAG              = "10m"
      COLLECT_OVERLAP          = "10m"
      COLLECT_WINDOW           = "1d"
      LOGZIO_URL               = "https://listener.logz.io:8071"
      LOGZIO_TOKEN_SECRET_OCID = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret"
      LOGZIO_TYPE              = "oci-audit"
      DEAD_LETTER_PREFIX       = "dead-letter/"
      LEDGER_PREFIX            = "shipped/logzio/"
      METRICS_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaapipeline"
      METRICS_NAMESPACE        = "auditship"
    })
    error_message = "audit-collector config is wrong"
  }
  assert {
    condition = alltrue([
      for k in ["LOGZIO_URL", "LOGZIO_TOKEN_SECRET_OCID", "LOGZIO_TYPE", "DEAD_LETTER_PREFIX", "LEDGER_PREFIX"] :
      oci_functions_function.collector[0].config[k] == oci_functions_function.shipper["logzio-shipper"].config[k]
    ])
    error_message = "the collector must ship with exactly the Logz.io shipper's settings"
  }
  assert {
    condition     = startswith(oci_functions_function.collector[0].config["STATE_DIR"], "oci://testns/audit-ship-audit/${oci_functions_function.collector[0].config["LEDGER_PREFIX"]}")
    error_message = "STATE_DIR must lie under the ledger prefix, in the pipeline's bucket"
  }
  assert {
    condition     = !contains([for a in oci_events_rule.object_created.actions[0].actions : a.function_id], oci_functions_function.collector[0].id) && length(oci_functions_function.shipper) == 2
    error_message = "the collector is not an Events target, and the shippers stay as they were"
  }

  # --- dynamic group and policy ---
  assert {
    condition     = oci_identity_dynamic_group.collector[0].matching_rule == "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.collector[0].id}'}"
    error_message = "the collector's dynamic group must match only the collector function"
  }
  assert {
    condition     = !contains([for dg in oci_identity_dynamic_group.shipper : dg.matching_rule], oci_identity_dynamic_group.collector[0].matching_rule)
    error_message = "no shipper dynamic group may match the collector"
  }
  assert {
    condition = toset(oci_identity_policy.collector[0].statements) == toset([
      "Allow dynamic-group audit-ship-audit-collector to read objects in compartment id ocid1.compartment.oc1..aaaapipeline where target.bucket.name = 'audit-ship-audit'",
      "Allow dynamic-group audit-ship-audit-collector to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', any {request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE'}}",
      "Allow dynamic-group audit-ship-audit-collector to read secret-bundles in compartment id ocid1.compartment.oc1..aaaapipeline where target.secret.id = 'ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret'",
      "Allow dynamic-group audit-ship-audit-collector to read audit-events in tenancy",
      "Allow dynamic-group audit-ship-audit-collector to inspect compartments in tenancy",
      "Allow dynamic-group audit-ship-audit-collector to inspect tenancies in tenancy",
      "Allow dynamic-group audit-ship-audit-collector to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'",
      "Allow dynamic-group audit-ship-audit-collector to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.collector[0].id}'",
      "Allow dynamic-group audit-ship-audit-collector to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.collector[0].id}'",
    ])
    error_message = "collector policy statements changed"
  }
  assert {
    condition     = contains(oci_identity_policy.collector[0].statements, "Allow dynamic-group audit-ship-audit-collector to read audit-events in tenancy")
    error_message = "the collector must read audit events in the whole tenancy by default"
  }
  assert {
    condition = toset([
      for s in oci_identity_policy.collector[0].statements : replace(s, "audit-ship-audit-collector", "X")
      if strcontains(s, " objects ") || strcontains(s, "secret-bundles") || strcontains(s, " metrics ")
      ]) == toset([
      for s in oci_identity_policy.functions.statements : replace(s, "audit-ship-logzio-shipper", "X")
      if strcontains(s, "audit-ship-logzio-shipper") && (strcontains(s, " objects ") || strcontains(s, "secret-bundles") || strcontains(s, " metrics "))
    ])
    error_message = "bucket, sink and metrics grants must be exactly the Logz.io shipper's"
  }
  assert {
    condition     = oci_identity_policy.collector[0].compartment_id == var.tenancy_ocid && oci_identity_dynamic_group.collector[0].compartment_id == var.tenancy_ocid
    error_message = "the collector's policy (it grants `in tenancy`) and dynamic group live in the tenancy"
  }
  assert {
    condition = alltrue([
      for s in oci_identity_policy.functions.statements : !strcontains(s, "audit-collector")
    ])
    error_message = "the shippers' policy must not change"
  }

  # --- schedule ---
  assert {
    condition = [
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].action,
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].recurrence_type,
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].recurrence_details,
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].compartment_id,
    ] == ["START_RESOURCE", "CRON", "*/15 * * * *", "ocid1.compartment.oc1..aaaapipeline"]
    error_message = "the schedule starts (invokes) the function every 15 minutes, from CRON"
  }
  assert {
    condition = (
      length(oci_resource_scheduler_schedule.job["audit-collector-catch-up"].resources) == 1 &&
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].resources[0].id == oci_functions_function.collector[0].id &&
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].resources[0].parameters[0].parameter_type == "BODY" &&
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].resources[0].parameters[0].value == tolist(["{}"])
    )
    error_message = "the schedule targets only the collector, with the body {}"
  }
  assert {
    condition = oci_identity_policy.schedule["audit-collector-catch-up"].statements == tolist([
      "Allow any-user to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'resourceschedule', request.principal.id = '${oci_resource_scheduler_schedule.job["audit-collector-catch-up"].id}', target.function.id = '${oci_functions_function.collector[0].id}'}",
      "Allow any-user to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'resourceschedule', request.principal.id = '${oci_resource_scheduler_schedule.job["audit-collector-catch-up"].id}', target.function.id = '${oci_functions_function.collector[0].id}'}",
    ])
    error_message = "only this schedule's principal may look up and invoke only this function"
  }

  # --- lifecycle: the state is out of the ledger rule and has its own ---
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.object_name_filter[0].exclusion_patterns == toset(["shipped/logzio/collectors/*"]) && r.object_name_filter[0].inclusion_prefixes == toset(["shipped/logzio/", "shipped/oci-logging/"])
      if r.name == "delete-ledger-markers"
    ] == [true]
    error_message = "the ledger rule must exclude the collector's state prefix"
  }
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.action == "DELETE" && r.time_amount == "400" && r.object_name_filter[0].inclusion_prefixes == toset(["shipped/logzio/collectors/"])
      if r.name == "delete-collector-state"
    ] == [true]
    error_message = "collector state expires only after 400 days without a rewrite"
  }

  # --- outputs ---
  assert {
    condition = (
      output.audit_collector_function_id == oci_functions_function.collector[0].id &&
      output.audit_collector_schedule_id == oci_resource_scheduler_schedule.job["audit-collector-catch-up"].id &&
      output.audit_collector_state_dir == "oci://testns/audit-ship-audit/shipped/logzio/collectors/"
    )
    error_message = "collector outputs"
  }
  assert {
    condition     = output.audit_collector_backfill_command == "oci fn function invoke --function-id ${oci_functions_function.collector[0].id} --file - --body '{\"audit\":{\"since\":\"2026-06-01T00:00:00Z\",\"until\":\"2026-12-01T00:00:00Z\"}}'"
    error_message = "backfill command"
  }
}

run "collector_tenancy_ocid_means_tenancy" {
  command = apply

  variables {
    audit_collector_enabled          = true
    audit_collector_image            = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    audit_collector_compartment_ocid = "ocid1.tenancy.oc1..aaaatenancy"
  }

  assert {
    condition = (
      contains(oci_identity_policy.collector[0].statements, "Allow dynamic-group audit-ship-audit-collector to read audit-events in tenancy") &&
      oci_functions_function.collector[0].config["COLLECT_COMPARTMENT_OCID"] == "ocid1.tenancy.oc1..aaaatenancy"
    )
    error_message = "the tenancy's OCID as the compartment is the whole tenancy"
  }
}

run "collector_schedule_disabled" {
  command = apply

  variables {
    audit_collector_enabled          = true
    audit_collector_image            = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    audit_collector_schedule_enabled = false
  }

  assert {
    condition     = !contains(keys(oci_resource_scheduler_schedule.job), "audit-collector-catch-up") && !contains(keys(oci_identity_policy.schedule), "audit-collector-catch-up")
    error_message = "no schedule and no schedule policy when the schedule is off"
  }
  assert {
    condition     = length(oci_functions_function.collector) == 1 && length(oci_identity_policy.collector) == 1 && output.audit_collector_schedule_id == null
    error_message = "the function and its own policy stay, for backfills by hand"
  }
}

run "collector_to_oci_logging_scoped" {
  command = apply

  variables {
    enable_logging_function              = false
    logging_image                        = null
    audit_collector_enabled              = true
    audit_collector_image                = "fra.ocir.io/testns/audit-ship/audit-collector@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    audit_collector_sink                 = "oci-logging"
    audit_collector_regions              = ["eu-frankfurt-1", "us-ashburn-1"]
    audit_collector_compartment_ocid     = "ocid1.compartment.oc1..aaaaaudited"
    audit_collector_concurrency          = 4
    audit_collector_schedule_cron        = "0 * * * *"
    audit_collector_state_retention_days = null
    log_compartment_ocid                 = "ocid1.compartment.oc1..aaaalogs"
  }

  assert {
    condition     = length(oci_logging_log.reingest) == 1 && keys(oci_functions_function.shipper) == ["logzio-shipper"]
    error_message = "the custom log exists for the collector even without the Logging shipper"
  }
  assert {
    condition = oci_functions_function.collector[0].config == tomap({
      SINK                     = "oci-logging"
      STATE_DIR                = "oci://testns/audit-ship-audit/shipped/oci-logging/collectors/"
      COLLECT_CONCURRENCY      = "4"
      COLLECT_LAG              = "10m"
      COLLECT_OVERLAP          = "10m"
      COLLECT_WINDOW           = "1d"
      COLLECT_REGIONS          = "eu-frankfurt-1,us-ashburn-1"
      COLLECT_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaaaudited"
      OCI_LOG_ID               = oci_logging_log.reingest[0].id
      DEAD_LETTER_PREFIX       = "dead-letter/"
      LEDGER_PREFIX            = "shipped/oci-logging/"
      METRICS_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaapipeline"
      METRICS_NAMESPACE        = "auditship"
    })
    error_message = "collector config for oci-logging, two regions, one compartment"
  }
  assert {
    condition = toset([
      for s in oci_identity_policy.collector[0].statements : s
      if strcontains(s, "audit-events") || strcontains(s, "compartments") || strcontains(s, "log-content") || strcontains(s, "secret-bundles")
      ]) == toset([
      "Allow dynamic-group audit-ship-audit-collector to read audit-events in compartment id ocid1.compartment.oc1..aaaaaudited",
      "Allow dynamic-group audit-ship-audit-collector to inspect compartments in compartment id ocid1.compartment.oc1..aaaaaudited",
      "Allow dynamic-group audit-ship-audit-collector to use log-content in compartment id ocid1.compartment.oc1..aaaalogs",
    ])
    error_message = "audit-events and compartments narrowed to the compartment; log-content, no secret"
  }
  assert {
    condition     = oci_resource_scheduler_schedule.job["audit-collector-catch-up"].recurrence_details == "0 * * * *"
    error_message = "the cron expression comes from audit_collector_schedule_cron"
  }
  assert {
    condition = (
      length([for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r if r.name == "delete-collector-state"]) == 0 &&
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.object_name_filter[0].exclusion_patterns if r.name == "delete-ledger-markers"] == [toset(["shipped/oci-logging/collectors/*"])]
    )
    error_message = "state kept forever when its retention is null, still out of the ledger rule"
  }
}

# --- validations (plan stops before any provider call) ---

run "rejects_collector_without_image" {
  command = plan
  variables {
    audit_collector_enabled = true
  }
  expect_failures = [var.audit_collector_image]
}

run "rejects_unknown_sink" {
  command = plan
  variables {
    audit_collector_sink = "splunk"
  }
  expect_failures = [var.audit_collector_sink]
}

run "rejects_logzio_sink_without_secret" {
  command = plan
  variables {
    enable_logzio_function   = false
    logzio_image             = null
    logzio_token_secret_ocid = null
    audit_collector_enabled  = true
    audit_collector_image    = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    audit_collector_sink     = "logzio"
  }
  expect_failures = [var.audit_collector_sink]
}

run "rejects_bad_cron" {
  command = plan
  variables {
    audit_collector_schedule_cron = "every 15 minutes"
  }
  expect_failures = [var.audit_collector_schedule_cron]
}

run "rejects_bad_duration" {
  command = plan
  variables {
    audit_collector_lag = "10 minutes"
  }
  expect_failures = [var.audit_collector_lag]
}

run "rejects_lag_over_a_day" {
  command = plan
  variables {
    audit_collector_lag = "1d1h"
  }
  expect_failures = [var.audit_collector_lag]
}

run "rejects_window_over_14_days" {
  command = plan
  variables {
    audit_collector_window = "15d"
  }
  expect_failures = [var.audit_collector_window]
}

run "rejects_window_in_seconds" {
  command = plan
  variables {
    audit_collector_window = "90s"
  }
  expect_failures = [var.audit_collector_window]
}

run "accepts_compound_durations" {
  command = plan
  variables {
    audit_collector_lag     = "1h30m"
    audit_collector_overlap = "1d"
    audit_collector_window  = "2w"
  }
}

run "rejects_zero_concurrency" {
  command = plan
  variables {
    audit_collector_concurrency = 0
  }
  expect_failures = [var.audit_collector_concurrency]
}

run "rejects_bad_region" {
  command = plan
  variables {
    audit_collector_regions = ["Frankfurt"]
  }
  expect_failures = [var.audit_collector_regions]
}
