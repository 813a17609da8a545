# Everything that runs on a schedule (schedules.tf; issue 14): the reconciliation sweeps and
# the collectors' catch-ups, one schedule and one policy per job, against mocked OCI: nothing
# is created, no credentials needed.

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

run "sweeps_by_default" {
  command = apply

  assert {
    condition = keys(oci_resource_scheduler_schedule.job) == [
      "logzio-shipper-sweep-connector", "logzio-shipper-sweep-dbaudit", "logzio-shipper-sweep-fmw",
      "oci-logging-shipper-sweep-connector", "oci-logging-shipper-sweep-dbaudit", "oci-logging-shipper-sweep-fmw",
    ]
    error_message = "one sweep per shipper function and shipped prefix (connector output, fmw/, dbaudit/), and no collector catch-up while the collectors are off"
  }

  # --- payload: {"sweep": "oci://<ns>/<bucket>/<prefix>", "older_than": "15m"} ---
  assert {
    condition = { for k, s in oci_resource_scheduler_schedule.job : k => jsondecode(s.resources[0].parameters[0].value[0]) } == {
      "logzio-shipper-sweep-connector"      = { sweep = "oci://testns/audit-ship-audit/audit/", older_than = "15m" }
      "logzio-shipper-sweep-dbaudit"        = { sweep = "oci://testns/audit-ship-audit/dbaudit/", older_than = "15m" }
      "logzio-shipper-sweep-fmw"            = { sweep = "oci://testns/audit-ship-audit/fmw/", older_than = "15m" }
      "oci-logging-shipper-sweep-connector" = { sweep = "oci://testns/audit-ship-audit/audit/", older_than = "15m" }
      "oci-logging-shipper-sweep-dbaudit"   = { sweep = "oci://testns/audit-ship-audit/dbaudit/", older_than = "15m" }
      "oci-logging-shipper-sweep-fmw"       = { sweep = "oci://testns/audit-ship-audit/fmw/", older_than = "15m" }
    }
    error_message = "each sweep's BODY is {\"sweep\": \"oci://testns/audit-ship-audit/<prefix>\", \"older_than\": \"15m\"}"
  }
  assert {
    condition = alltrue([
      for k, s in oci_resource_scheduler_schedule.job :
      length(s.resources) == 1 && length(s.resources[0].parameters) == 1 &&
      s.resources[0].parameters[0].parameter_type == "BODY" && length(s.resources[0].parameters[0].value) == 1 &&
      s.resources[0].id == oci_functions_function.shipper[split("-sweep-", k)[0]].id
    ])
    error_message = "each sweep invokes its own shipper function, one resource with one BODY parameter"
  }

  # --- recurrence: hourly, from CRON ---
  assert {
    condition = alltrue([
      for k, s in oci_resource_scheduler_schedule.job :
      s.action == "START_RESOURCE" && s.recurrence_type == "CRON" && s.recurrence_details == "0 * * * *" &&
      s.compartment_id == "ocid1.compartment.oc1..aaaapipeline" && s.display_name == "audit-ship-${k}"
    ])
    error_message = "sweeps start (invoke) their function hourly, at minute 0, from CRON, in the pipeline's compartment"
  }

  # --- one policy per schedule: that principal, that function, nothing else ---
  assert {
    condition = alltrue([
      for k, s in oci_resource_scheduler_schedule.job :
      oci_identity_policy.schedule[k].statements == tolist([
        "Allow any-user to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'resourceschedule', request.principal.id = '${s.id}', target.function.id = '${s.resources[0].id}'}",
        "Allow any-user to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'resourceschedule', request.principal.id = '${s.id}', target.function.id = '${s.resources[0].id}'}",
      ]) &&
      oci_identity_policy.schedule[k].name == "audit-ship-${k}-schedule" &&
      oci_identity_policy.schedule[k].compartment_id == var.tenancy_ocid
    ])
    error_message = "each schedule's policy lets only that schedule look up and invoke only its function"
  }
  assert {
    condition     = keys(oci_identity_policy.schedule) == keys(oci_resource_scheduler_schedule.job)
    error_message = "one policy per schedule"
  }

  # --- the shippers may fan a sweep out over detached invocations of themselves only ---
  assert {
    condition = alltrue([
      for name, f in oci_functions_function.shipper : alltrue([
        for s in [
          "Allow dynamic-group audit-ship-${name} to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${f.id}'",
          "Allow dynamic-group audit-ship-${name} to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${f.id}'",
        ] : contains(oci_identity_policy.functions.statements, s)
      ])
    ])
    error_message = "each shipper may look up and invoke itself (the sweep's fan-out), and only itself"
  }

  # --- outputs ---
  assert {
    condition     = output.sweep_commands["logzio-shipper-sweep-connector"] == "oci fn function invoke --function-id ${oci_functions_function.shipper["logzio-shipper"].id} --file - --body '{\"older_than\":\"15m\",\"sweep\":\"oci://testns/audit-ship-audit/audit/\"}'"
    error_message = "the sweep command sends the schedule's own body"
  }
  assert {
    condition     = output.schedule_ids == { for k, s in oci_resource_scheduler_schedule.job : k => s.id } && output.audit_collector_schedule_id == null
    error_message = "schedule outputs"
  }
}

run "sweeps_off" {
  command = apply

  variables {
    sweep_schedule_enabled = false
  }

  assert {
    condition     = length(oci_resource_scheduler_schedule.job) == 0 && length(oci_identity_policy.schedule) == 0 && length(output.sweep_commands) == 0
    error_message = "sweep_schedule_enabled = false: no sweep schedule and no schedule policy"
  }
  assert {
    condition     = length([for s in oci_identity_policy.functions.statements : s if strcontains(s, "fn-invocation")]) == 2
    error_message = "the shippers still may sweep by hand (and fan out)"
  }
}

run "sweeps_custom" {
  command = apply

  variables {
    enable_logging_function = false
    logging_image           = null
    sweep_schedule_cron     = "*/30 * * * *"
    sweep_older_than        = "1h"
    fmw_upload_prefix       = null
    connector_object_prefix = "raw"
  }

  assert {
    condition     = keys(oci_resource_scheduler_schedule.job) == ["logzio-shipper-sweep-connector", "logzio-shipper-sweep-dbaudit"]
    error_message = "sweeps follow the shippers that are on and the prefixes that exist"
  }
  assert {
    condition = (
      jsondecode(oci_resource_scheduler_schedule.job["logzio-shipper-sweep-connector"].resources[0].parameters[0].value[0]) == { sweep = "oci://testns/audit-ship-audit/raw/", older_than = "1h" } &&
      alltrue([for s in oci_resource_scheduler_schedule.job : s.recurrence_details == "*/30 * * * *"])
    )
    error_message = "the payload follows connector_object_prefix and sweep_older_than, the recurrence sweep_schedule_cron"
  }
}

run "every_schedule_one_shape" {
  command = apply

  variables {
    audit_collector_enabled    = true
    audit_collector_image      = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    datasafe_collector_enabled = true
    datasafe_collector_image   = "fra.ocir.io/testns/audit-ship/datasafe-collector:0.1.0"
  }

  assert {
    condition     = length(oci_resource_scheduler_schedule.job) == 8 && keys(oci_identity_policy.schedule) == keys(oci_resource_scheduler_schedule.job)
    error_message = "two catch-ups and six sweeps, each with its policy"
  }
  assert {
    condition = { for k in ["audit-collector-catch-up", "datasafe-collector-catch-up"] : k => [
      oci_resource_scheduler_schedule.job[k].resources[0].id,
      oci_resource_scheduler_schedule.job[k].resources[0].parameters[0].value,
      oci_resource_scheduler_schedule.job[k].recurrence_details,
      oci_identity_policy.schedule[k].name,
      ] } == {
      "audit-collector-catch-up"    = [oci_functions_function.collector[0].id, tolist(["{}"]), "*/15 * * * *", "audit-ship-audit-collector-schedule"]
      "datasafe-collector-catch-up" = [oci_functions_function.datasafe_collector[0].id, tolist(["{}"]), "*/10 * * * *", "audit-ship-datasafe-collector-schedule"]
    }
    error_message = "the catch-ups keep their function, body {}, recurrence and policy name"
  }
  assert {
    condition = alltrue([
      for k, s in oci_resource_scheduler_schedule.job :
      s.action == "START_RESOURCE" && s.recurrence_type == "CRON" && length(s.resources) == 1 &&
      s.resources[0].parameters[0].parameter_type == "BODY" &&
      length(oci_identity_policy.schedule[k].statements) == 2 &&
      alltrue([
        for st in oci_identity_policy.schedule[k].statements :
        startswith(st, "Allow any-user to ") &&
        strcontains(st, "where all {request.principal.type = 'resourceschedule', request.principal.id = '${s.id}', target.function.id = '${s.resources[0].id}'}")
      ])
    ])
    error_message = "every job has the same shape: START_RESOURCE, CRON, one function with a BODY, a policy for its principal and function only"
  }
  assert {
    condition = (
      output.audit_collector_schedule_id == oci_resource_scheduler_schedule.job["audit-collector-catch-up"].id &&
      output.datasafe_collector_schedule_id == oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"].id
    )
    error_message = "the collectors' schedule outputs"
  }
}

run "one_switch_per_job" {
  command = apply

  variables {
    audit_collector_enabled          = true
    audit_collector_image            = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    audit_collector_schedule_enabled = false
    sweep_schedule_enabled           = true
  }

  assert {
    condition = (
      !contains(keys(oci_resource_scheduler_schedule.job), "audit-collector-catch-up") &&
      !contains(keys(oci_identity_policy.schedule), "audit-collector-catch-up") &&
      length(oci_resource_scheduler_schedule.job) == 6
    )
    error_message = "turning the catch-up off leaves the sweeps, and the other way round"
  }
}

# --- validations ---

run "rejects_bad_sweep_cron" {
  command = plan
  variables {
    sweep_schedule_cron = "hourly"
  }
  expect_failures = [var.sweep_schedule_cron]
}

run "rejects_grace_period_in_words" {
  command = plan
  variables {
    sweep_older_than = "15 minutes"
  }
  expect_failures = [var.sweep_older_than]
}

run "rejects_grace_period_over_a_day" {
  command = plan
  variables {
    sweep_older_than = "2d"
  }
  expect_failures = [var.sweep_older_than]
}

run "accepts_compound_grace_period" {
  command = plan
  variables {
    sweep_older_than = "1h30m"
  }
}
