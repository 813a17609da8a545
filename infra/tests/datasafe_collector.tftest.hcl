# The optional Data Safe collector (datasafe_collector.tf, its IAM in iam.tf, its state in the
# lifecycle rules of storage.tf), alone and beside the audit collector, against mocked OCI:
# nothing is created, no credentials needed.

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

run "datasafe_collector_off_by_default" {
  command = plan

  assert {
    condition = (
      length(oci_functions_function.datasafe_collector) == 0 && length(oci_identity_dynamic_group.datasafe_collector) == 0 &&
      length(oci_identity_policy.datasafe_collector) == 0 && !contains(keys(oci_resource_scheduler_schedule.job), "datasafe-collector-catch-up") &&
      !contains(keys(oci_identity_policy.schedule), "datasafe-collector-catch-up")
    )
    error_message = "nothing of the Data Safe collector is created unless datasafe_collector_enabled"
  }
  assert {
    condition = (
      output.datasafe_collector_function_id == null && output.datasafe_collector_schedule_id == null &&
      output.datasafe_collector_state_dir == null && output.datasafe_collector_backfill_command == null
    )
    error_message = "Data Safe collector outputs are null when it is off"
  }
}

run "datasafe_collector_defaults" {
  command = apply

  variables {
    datasafe_collector_enabled = true
    datasafe_collector_image   = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
  }

  # --- the function ---
  assert {
    condition = (
      oci_functions_function.datasafe_collector[0].display_name == "datasafe-collector" &&
      oci_functions_function.datasafe_collector[0].application_id == oci_functions_application.this.id &&
      oci_functions_function.datasafe_collector[0].image == var.datasafe_collector_image &&
      oci_functions_function.datasafe_collector[0].memory_in_mbs == "512" &&
      oci_functions_function.datasafe_collector[0].timeout_in_seconds == 300
    )
    error_message = "datasafe-collector: in the application, from its image, 512 MB, 300 s"
  }
  assert {
    condition = oci_functions_function.datasafe_collector[0].config == tomap({
      SINK                     = "logzio"
      STATE_DIR                = "oci://testns/audit-ship-audit/shipped/logzio/collectors/"
      COLLECT_CONCURRENCY      = "16"
      COLLECT_LAG              = "10m"
      COLLECT_OVERLAP          = "10m"
      COLLECT_WINDOW           = "1d"
      DATASAFE_TYPE            = "oci-datasafe"
      DATASAFE_REDACT          = "none"
      LOGZIO_URL               = "https://listener.logz.io:8071"
      LOGZIO_TOKEN_SECRET_OCID = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret"
      DEAD_LETTER_PREFIX       = "dead-letter/"
      LEDGER_PREFIX            = "shipped/logzio/"
      METRICS_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaapipeline"
      METRICS_NAMESPACE        = "auditship"
    })
    error_message = "datasafe-collector config is wrong"
  }
  assert {
    condition = alltrue([
      for k in ["LOGZIO_URL", "LOGZIO_TOKEN_SECRET_OCID", "DEAD_LETTER_PREFIX", "LEDGER_PREFIX"] :
      oci_functions_function.datasafe_collector[0].config[k] == oci_functions_function.shipper["logzio-shipper"].config[k]
    ])
    error_message = "the Data Safe collector must ship with the Logz.io shipper's listener, secret and bucket layout"
  }
  assert {
    condition     = !contains(keys(oci_functions_function.datasafe_collector[0].config), "LOGZIO_TYPE")
    error_message = "no LOGZIO_TYPE: Data Safe records ship with DATASAFE_TYPE as their Logz.io type, not the shipper's oci-audit"
  }
  assert {
    condition     = startswith(oci_functions_function.datasafe_collector[0].config["STATE_DIR"], "oci://testns/audit-ship-audit/${oci_functions_function.datasafe_collector[0].config["LEDGER_PREFIX"]}")
    error_message = "the Data Safe collector's STATE_DIR must lie under the ledger prefix, in the pipeline's bucket"
  }
  assert {
    condition     = !contains([for a in oci_events_rule.object_created.actions[0].actions : a.function_id], oci_functions_function.datasafe_collector[0].id) && length(oci_functions_function.shipper) == 2
    error_message = "the Data Safe collector is not an Events target, and the shippers stay as they were"
  }
  assert {
    condition = (
      length(oci_functions_function.collector) == 0 && length(oci_identity_policy.collector) == 0 &&
      !contains(keys(oci_resource_scheduler_schedule.job), "audit-collector-catch-up")
    )
    error_message = "turning on the Data Safe collector does not turn on the audit collector"
  }

  # --- dynamic group and policy ---
  assert {
    condition     = oci_identity_dynamic_group.datasafe_collector[0].matching_rule == "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.datasafe_collector[0].id}'}"
    error_message = "the Data Safe collector's dynamic group must match only the datasafe-collector function"
  }
  assert {
    condition     = !contains([for dg in oci_identity_dynamic_group.shipper : dg.matching_rule], oci_identity_dynamic_group.datasafe_collector[0].matching_rule)
    error_message = "no shipper dynamic group may match the Data Safe collector"
  }
  assert {
    condition = toset(oci_identity_policy.datasafe_collector[0].statements) == toset([
      "Allow dynamic-group audit-ship-datasafe-collector to read objects in compartment id ocid1.compartment.oc1..aaaapipeline where target.bucket.name = 'audit-ship-audit'",
      "Allow dynamic-group audit-ship-datasafe-collector to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', any {request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE'}}",
      "Allow dynamic-group audit-ship-datasafe-collector to read secret-bundles in compartment id ocid1.compartment.oc1..aaaapipeline where target.secret.id = 'ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret'",
      "Allow dynamic-group audit-ship-datasafe-collector to read data-safe-audit-events in tenancy",
      "Allow dynamic-group audit-ship-datasafe-collector to inspect tenancies in tenancy",
      "Allow dynamic-group audit-ship-datasafe-collector to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'",
      "Allow dynamic-group audit-ship-datasafe-collector to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.datasafe_collector[0].id}'",
      "Allow dynamic-group audit-ship-datasafe-collector to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.datasafe_collector[0].id}'",
    ])
    error_message = "Data Safe collector policy statements changed"
  }
  assert {
    condition     = contains(oci_identity_policy.datasafe_collector[0].statements, "Allow dynamic-group audit-ship-datasafe-collector to read data-safe-audit-events in tenancy")
    error_message = "the Data Safe collector must read data-safe-audit-events in the whole tenancy by default"
  }
  assert {
    condition = alltrue([
      for s in oci_identity_policy.datasafe_collector[0].statements :
      !strcontains(s, " compartments ") && !strcontains(s, " audit-events ") && !strcontains(s, "-family")
    ])
    error_message = "the Data Safe collector lists no compartments, reads no OCI audit events and gets no family grant"
  }
  assert {
    condition = toset([
      for s in oci_identity_policy.datasafe_collector[0].statements : replace(s, "audit-ship-datasafe-collector", "X")
      if strcontains(s, " objects ") || strcontains(s, "secret-bundles") || strcontains(s, " metrics ")
      ]) == toset([
      for s in oci_identity_policy.functions.statements : replace(s, "audit-ship-logzio-shipper", "X")
      if strcontains(s, "audit-ship-logzio-shipper") && (strcontains(s, " objects ") || strcontains(s, "secret-bundles") || strcontains(s, " metrics "))
    ])
    error_message = "bucket, sink and metrics grants must be exactly the Logz.io shipper's"
  }
  assert {
    condition     = oci_identity_policy.datasafe_collector[0].compartment_id == var.tenancy_ocid && oci_identity_dynamic_group.datasafe_collector[0].compartment_id == var.tenancy_ocid
    error_message = "the Data Safe collector's policy (it grants `in tenancy`) and dynamic group live in the tenancy"
  }
  assert {
    condition = alltrue([
      for s in oci_identity_policy.functions.statements : !strcontains(s, "collector")
    ])
    error_message = "the shippers' policy must not change"
  }

  # --- schedule ---
  assert {
    condition = [
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].action,
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].recurrence_type,
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].recurrence_details,
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].compartment_id,
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].display_name,
    ] == ["START_RESOURCE", "CRON", "*/10 * * * *", "ocid1.compartment.oc1..aaaapipeline", "audit-ship-datasafe-collector-catch-up"]
    error_message = "the Data Safe schedule starts (invokes) the function every 10 minutes, from CRON"
  }
  assert {
    condition = (
      length(oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].resources) == 1 &&
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].resources[0].id == oci_functions_function.datasafe_collector[0].id &&
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].resources[0].parameters[0].parameter_type == "BODY" &&
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].resources[0].parameters[0].value == tolist(["{}"])
    )
    error_message = "the Data Safe schedule targets only the datasafe-collector, with the body {}"
  }
  assert {
    condition = oci_identity_policy.schedule["datasafe-collector-catch-up"].statements == tolist([
      "Allow any-user to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'resourceschedule', request.principal.id = '${oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].id}', target.function.id = '${oci_functions_function.datasafe_collector[0].id}'}",
      "Allow any-user to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'resourceschedule', request.principal.id = '${oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].id}', target.function.id = '${oci_functions_function.datasafe_collector[0].id}'}",
    ])
    error_message = "only the Data Safe schedule's principal may look up and invoke only the datasafe-collector"
  }

  # --- lifecycle: the state is out of the ledger rule and has its own ---
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.object_name_filter[0].exclusion_patterns == toset(["shipped/logzio/collectors/*"]) && r.object_name_filter[0].inclusion_prefixes == toset(["shipped/logzio/", "shipped/oci-logging/"])
      if r.name == "delete-ledger-markers"
    ] == [true]
    error_message = "the ledger rule must exclude the Data Safe collector's state prefix"
  }
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.action == "DELETE" && r.time_amount == "400" && r.object_name_filter[0].inclusion_prefixes == toset(["shipped/logzio/collectors/"])
      if r.name == "delete-collector-state"
    ] == [true]
    error_message = "the Data Safe collector's state expires only after 400 days without a rewrite"
  }

  # --- outputs ---
  assert {
    condition = (
      output.datasafe_collector_function_id == oci_functions_function.datasafe_collector[0].id &&
      output.datasafe_collector_schedule_id == oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].id &&
      output.datasafe_collector_state_dir == "oci://testns/audit-ship-audit/shipped/logzio/collectors/" &&
      output.audit_collector_function_id == null
    )
    error_message = "Data Safe collector outputs"
  }
  assert {
    condition     = output.datasafe_collector_backfill_command == "oci fn function invoke --function-id ${oci_functions_function.datasafe_collector[0].id} --file - --body '{\"datasafe\":{\"since\":\"7d\"}}'"
    error_message = "Data Safe backfill command"
  }
}

run "both_collectors_share_the_state_dir" {
  command = apply

  variables {
    audit_collector_enabled    = true
    audit_collector_image      = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    datasafe_collector_enabled = true
    datasafe_collector_image   = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
  }

  assert {
    condition     = oci_functions_function.collector[0].config["STATE_DIR"] == oci_functions_function.datasafe_collector[0].config["STATE_DIR"]
    error_message = "collectors of one sink share STATE_DIR (each keeps its state under its own source folder)"
  }
  assert {
    condition = (
      oci_identity_dynamic_group.collector[0].matching_rule != oci_identity_dynamic_group.datasafe_collector[0].matching_rule &&
      strcontains(oci_identity_dynamic_group.collector[0].matching_rule, oci_functions_function.collector[0].id) &&
      !strcontains(oci_identity_dynamic_group.collector[0].matching_rule, oci_functions_function.datasafe_collector[0].id) &&
      strcontains(oci_identity_dynamic_group.datasafe_collector[0].matching_rule, oci_functions_function.datasafe_collector[0].id) &&
      !strcontains(oci_identity_dynamic_group.datasafe_collector[0].matching_rule, oci_functions_function.collector[0].id)
    )
    error_message = "each collector's dynamic group matches its own function only"
  }
  assert {
    condition = (
      alltrue([for s in oci_identity_policy.collector[0].statements : !strcontains(s, "data-safe") && !strcontains(s, oci_functions_function.datasafe_collector[0].id)]) &&
      alltrue([for s in oci_identity_policy.datasafe_collector[0].statements : !strcontains(s, " audit-events ") && !strcontains(s, oci_functions_function.collector[0].id)])
    )
    error_message = "neither collector gets the other's reads or may invoke the other"
  }
  assert {
    condition = (
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.object_name_filter[0].exclusion_patterns if r.name == "delete-ledger-markers"] == [toset(["shipped/logzio/collectors/*"])] &&
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.object_name_filter[0].inclusion_prefixes if r.name == "delete-collector-state"] == [toset(["shipped/logzio/collectors/"])]
    )
    error_message = "one shared state prefix: excluded once from the ledger rule, one state rule"
  }
  assert {
    condition = (
      contains(keys(oci_resource_scheduler_schedule.job), "audit-collector-catch-up") && contains(keys(oci_resource_scheduler_schedule.job), "datasafe-collector-catch-up") &&
      oci_resource_scheduler_schedule.job["audit-collector-catch-up"].recurrence_details == "*/15 * * * *" &&
      oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].recurrence_details == "*/10 * * * *"
    )
    error_message = "each collector has its own schedule"
  }
}

run "collectors_on_different_sinks" {
  command = apply

  variables {
    enable_logging_function    = false
    logging_image              = null
    audit_collector_enabled    = true
    audit_collector_image      = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    datasafe_collector_enabled = true
    datasafe_collector_image   = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
    datasafe_collector_sink    = "oci-logging"
  }

  assert {
    condition     = length(oci_logging_log.reingest) == 1 && keys(oci_functions_function.shipper) == ["logzio-shipper"]
    error_message = "the custom log exists for the Data Safe collector even without the Logging shipper"
  }
  assert {
    condition = (
      oci_functions_function.datasafe_collector[0].config["STATE_DIR"] == "oci://testns/audit-ship-audit/shipped/oci-logging/collectors/" &&
      oci_functions_function.datasafe_collector[0].config["OCI_LOG_ID"] == oci_logging_log.reingest[0].id &&
      oci_functions_function.collector[0].config["STATE_DIR"] == "oci://testns/audit-ship-audit/shipped/logzio/collectors/"
    )
    error_message = "each collector's state lies under the ledger prefix of its own sink"
  }
  assert {
    condition = (
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.object_name_filter[0].exclusion_patterns if r.name == "delete-ledger-markers"] == [toset(["shipped/logzio/collectors/*", "shipped/oci-logging/collectors/*"])] &&
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.object_name_filter[0].inclusion_prefixes if r.name == "delete-collector-state"] == [toset(["shipped/logzio/collectors/", "shipped/oci-logging/collectors/"])]
    )
    error_message = "both state prefixes are excluded from the ledger rule and kept by the state rule"
  }
}

run "datasafe_collector_tenancy_ocid_means_tenancy" {
  command = apply

  variables {
    datasafe_collector_enabled          = true
    datasafe_collector_image            = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
    datasafe_collector_compartment_ocid = "ocid1.tenancy.oc1..aaaatenancy"
  }

  assert {
    condition = (
      contains(oci_identity_policy.datasafe_collector[0].statements, "Allow dynamic-group audit-ship-datasafe-collector to read data-safe-audit-events in tenancy") &&
      oci_functions_function.datasafe_collector[0].config["COLLECT_COMPARTMENT_OCID"] == "ocid1.tenancy.oc1..aaaatenancy"
    )
    error_message = "the tenancy's OCID as the compartment is the whole tenancy"
  }
}

run "datasafe_collector_schedule_disabled" {
  command = apply

  variables {
    datasafe_collector_enabled          = true
    datasafe_collector_image            = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
    datasafe_collector_schedule_enabled = false
  }

  assert {
    condition     = !contains(keys(oci_resource_scheduler_schedule.job), "datasafe-collector-catch-up") && !contains(keys(oci_identity_policy.schedule), "datasafe-collector-catch-up")
    error_message = "no Data Safe schedule and no schedule policy when the schedule is off"
  }
  assert {
    condition     = length(oci_functions_function.datasafe_collector) == 1 && length(oci_identity_policy.datasafe_collector) == 1 && output.datasafe_collector_schedule_id == null
    error_message = "the Data Safe function and its own policy stay, for backfills by hand"
  }
}

run "datasafe_collector_to_oci_logging_scoped" {
  command = apply

  variables {
    enable_logging_function              = false
    logging_image                        = null
    datasafe_collector_enabled           = true
    datasafe_collector_image             = "fra.ocir.io/testns/audit-ship/datasafe-collector@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    datasafe_collector_memory_mb         = 1024
    datasafe_collector_sink              = "oci-logging"
    datasafe_collector_regions           = ["eu-frankfurt-1", "us-ashburn-1"]
    datasafe_collector_compartment_ocid  = "ocid1.compartment.oc1..aaaadatabases"
    datasafe_collector_concurrency       = 4
    datasafe_collector_lag               = "20m"
    datasafe_collector_overlap           = "30m"
    datasafe_collector_window            = "6h"
    datasafe_collector_type              = "oci-datasafe-prod"
    datasafe_collector_redact            = "sql"
    datasafe_collector_schedule_cron     = "0 * * * *"
    audit_collector_state_retention_days = null
    log_compartment_ocid                 = "ocid1.compartment.oc1..aaaalogs"
  }

  assert {
    condition     = length(oci_logging_log.reingest) == 1 && keys(oci_functions_function.shipper) == ["logzio-shipper"]
    error_message = "the custom log exists for the Data Safe collector even without the Logging shipper"
  }
  assert {
    condition = oci_functions_function.datasafe_collector[0].config == tomap({
      SINK                     = "oci-logging"
      STATE_DIR                = "oci://testns/audit-ship-audit/shipped/oci-logging/collectors/"
      COLLECT_CONCURRENCY      = "4"
      COLLECT_LAG              = "20m"
      COLLECT_OVERLAP          = "30m"
      COLLECT_WINDOW           = "6h"
      COLLECT_REGIONS          = "eu-frankfurt-1,us-ashburn-1"
      COLLECT_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaadatabases"
      DATASAFE_TYPE            = "oci-datasafe-prod"
      DATASAFE_REDACT          = "sql"
      OCI_LOG_ID               = oci_logging_log.reingest[0].id
      DEAD_LETTER_PREFIX       = "dead-letter/"
      LEDGER_PREFIX            = "shipped/oci-logging/"
      METRICS_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaapipeline"
      METRICS_NAMESPACE        = "auditship"
    })
    error_message = "Data Safe collector config for oci-logging, two regions, one compartment, SQL redacted"
  }
  assert {
    condition     = oci_functions_function.datasafe_collector[0].memory_in_mbs == "1024"
    error_message = "memory from datasafe_collector_memory_mb"
  }
  assert {
    condition = toset([
      for s in oci_identity_policy.datasafe_collector[0].statements : s
      if strcontains(s, "data-safe") || strcontains(s, "log-content") || strcontains(s, "secret-bundles") || strcontains(s, " in tenancy")
      ]) == toset([
      "Allow dynamic-group audit-ship-datasafe-collector to read data-safe-audit-events in compartment id ocid1.compartment.oc1..aaaadatabases",
      "Allow dynamic-group audit-ship-datasafe-collector to inspect tenancies in tenancy",
      "Allow dynamic-group audit-ship-datasafe-collector to use log-content in compartment id ocid1.compartment.oc1..aaaalogs",
    ])
    error_message = "data-safe-audit-events narrowed to the compartment; region subscriptions stay tenancy-wide; log-content, no secret"
  }
  assert {
    condition     = oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].recurrence_details == "0 * * * *"
    error_message = "the cron expression comes from datasafe_collector_schedule_cron"
  }
  assert {
    condition = (
      length([for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r if r.name == "delete-collector-state"]) == 0 &&
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.object_name_filter[0].exclusion_patterns if r.name == "delete-ledger-markers"] == [toset(["shipped/oci-logging/collectors/*"])]
    )
    error_message = "state kept forever when its retention is null, still out of the ledger rule"
  }
}

run "datasafe_collector_logzio_type_override_is_not_taken_from_the_shipper" {
  command = apply

  variables {
    logzio_type                = "my-audit"
    datasafe_collector_enabled = true
    datasafe_collector_image   = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
  }

  assert {
    condition = (
      oci_functions_function.shipper["logzio-shipper"].config["LOGZIO_TYPE"] == "my-audit" &&
      !contains(keys(oci_functions_function.datasafe_collector[0].config), "LOGZIO_TYPE") &&
      oci_functions_function.datasafe_collector[0].config["DATASAFE_TYPE"] == "oci-datasafe"
    )
    error_message = "the shipper's logzio_type never reaches the Data Safe collector"
  }
}

# --- validations (plan stops before any provider call) ---

run "rejects_datasafe_collector_without_image" {
  command = plan
  variables {
    datasafe_collector_enabled = true
  }
  expect_failures = [var.datasafe_collector_image]
}

run "rejects_datasafe_unknown_sink" {
  command = plan
  variables {
    datasafe_collector_sink = "splunk"
  }
  expect_failures = [var.datasafe_collector_sink]
}

run "rejects_datasafe_logzio_sink_without_secret" {
  command = plan
  variables {
    enable_logzio_function     = false
    logzio_image               = null
    logzio_token_secret_ocid   = null
    datasafe_collector_enabled = true
    datasafe_collector_image   = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
    datasafe_collector_sink    = "logzio"
  }
  expect_failures = [var.datasafe_collector_sink]
}

run "rejects_datasafe_unknown_redaction" {
  command = plan
  variables {
    datasafe_collector_redact = "all"
  }
  expect_failures = [var.datasafe_collector_redact]
}

run "rejects_datasafe_type_with_spaces" {
  command = plan
  variables {
    datasafe_collector_type = "oci data safe"
  }
  expect_failures = [var.datasafe_collector_type]
}

run "rejects_datasafe_bad_cron" {
  command = plan
  variables {
    datasafe_collector_schedule_cron = "every 10 minutes"
  }
  expect_failures = [var.datasafe_collector_schedule_cron]
}

run "rejects_datasafe_bad_durations" {
  command = plan
  variables {
    datasafe_collector_lag     = "10 minutes"
    datasafe_collector_overlap = "1d1h"
    datasafe_collector_window  = "15d"
  }
  expect_failures = [var.datasafe_collector_lag, var.datasafe_collector_overlap, var.datasafe_collector_window]
}

run "rejects_datasafe_window_in_seconds" {
  command = plan
  variables {
    datasafe_collector_window = "90s"
  }
  expect_failures = [var.datasafe_collector_window]
}

run "accepts_datasafe_compound_durations" {
  command = plan
  variables {
    datasafe_collector_lag     = "1h30m"
    datasafe_collector_overlap = "1d"
    datasafe_collector_window  = "2w"
  }
}

run "rejects_datasafe_bad_numbers" {
  command = plan
  variables {
    datasafe_collector_concurrency = 0
    datasafe_collector_memory_mb   = 300
  }
  expect_failures = [var.datasafe_collector_concurrency, var.datasafe_collector_memory_mb]
}

run "rejects_datasafe_bad_region_and_compartment" {
  command = plan
  variables {
    datasafe_collector_regions          = ["Frankfurt"]
    datasafe_collector_compartment_ocid = "ocid1.database.oc1..aaaa"
  }
  expect_failures = [var.datasafe_collector_regions, var.datasafe_collector_compartment_ocid]
}
