# Everything that runs on a schedule, defined one way (issue 14): one Resource Scheduler
# schedule per job, with its payload; one variable that turns the job off; one policy that lets
# that schedule's principal, and no other, look up and invoke that job's function, and no other.
#
# Jobs, keyed by the schedule's name (display name "<name_prefix>-<key>"):
#   audit-collector-catch-up      the Audit API catch-up, body {}          audit_collector_schedule_enabled
#   datasafe-collector-catch-up   the Data Safe catch-up, body {}          datasafe_collector_schedule_enabled
#   <shipper>-sweep-<source>      the reconciliation sweep of one shipped  sweep_schedule_enabled
#                                 prefix (connector, fmw, dbaudit) by one
#                                 shipper function, body {"sweep": "oci://<ns>/<bucket>/<prefix>", "older_than": "15m"}
#
# START_RESOURCE on a function invokes it with the BODY parameter; recurrence_type is CRON or
# ICAL (the provider does not validate them; the SDK enum does), and `value` of a BODY
# parameter is a one-element list holding a JSON document.

locals {
  # Every job that could exist, each with the same attributes; `enabled` picks those that do.
  schedule_candidates = concat(
    [
      {
        key         = "audit-collector-catch-up"
        sweep       = false
        enabled     = local.collector_schedule_enabled
        function    = "audit-collector"
        function_id = local.collector_function_id
        policy_name = "audit-collector-schedule"
        what        = "catch-up"
        cron        = var.audit_collector_schedule_cron
        body        = jsonencode({})
      },
      {
        key         = "datasafe-collector-catch-up"
        sweep       = false
        enabled     = local.datasafe_collector_schedule_enabled
        function    = "datasafe-collector"
        function_id = local.datasafe_collector_function_id
        policy_name = "datasafe-collector-schedule"
        what        = "catch-up"
        cron        = var.datasafe_collector_schedule_cron
        body        = jsonencode({})
      },
    ],
    # One sweep per shipper function and shipped prefix: each shipper keeps its own ledger, so
    # each must find what it missed itself.
    [
      for pair in setproduct(sort(keys(local.functions)), sort(keys(local.shipped_prefixes))) : {
        key         = "${pair[0]}-sweep-${pair[1]}"
        sweep       = true
        enabled     = var.sweep_schedule_enabled
        function    = pair[0]
        function_id = oci_functions_function.shipper[pair[0]].id
        policy_name = "${pair[0]}-sweep-${pair[1]}-schedule"
        what        = "sweep of ${local.shipped_prefixes[pair[1]]}"
        cron        = var.sweep_schedule_cron
        body        = jsonencode({ sweep = "oci://${local.namespace}/${local.bucket_name}/${local.shipped_prefixes[pair[1]]}", older_than = var.sweep_older_than })
      }
    ],
  )

  scheduled_jobs = { for job in local.schedule_candidates : job.key => job if job.enabled }

  # Payloads of the sweeps, also for running one by hand (outputs.tf, docs/operations.md).
  sweep_payloads = { for key, job in local.scheduled_jobs : key => job.body if job.sweep }
}

resource "oci_resource_scheduler_schedule" "job" {
  for_each = local.scheduled_jobs

  compartment_id     = var.compartment_ocid
  display_name       = "${var.name_prefix}-${each.key}"
  description        = "Runs the ${each.value.function} ${each.value.what} (body ${each.value.body}) on ${each.value.cron} (UTC)"
  action             = "START_RESOURCE"
  recurrence_type    = "CRON"
  recurrence_details = each.value.cron
  freeform_tags      = var.freeform_tags

  resources {
    id = each.value.function_id

    parameters {
      parameter_type = "BODY"
      value          = [each.value.body]
    }
  }

  # The function needs its own grants before its first scheduled run.
  depends_on = [oci_identity_policy.functions, oci_identity_policy.collector, oci_identity_policy.datasafe_collector]
}

# Written once the schedule has an OCID: a first run can come before it is in effect and fail
# once (the next run succeeds; a sweep or catch-up misses nothing by being late).
resource "oci_identity_policy" "schedule" {
  for_each = local.scheduled_jobs
  provider = oci.home

  compartment_id = local.policy_compartment
  name           = "${var.name_prefix}-${each.value.policy_name}"
  description    = "${var.name_prefix}: only the ${each.key} schedule may invoke ${each.value.function}"
  statements     = [for f in local.schedule_statement_formats : format(f, oci_resource_scheduler_schedule.job[each.key].id, each.value.function_id)]
  freeform_tags  = var.freeform_tags
}

# The collectors' schedules and policies had addresses of their own before; an existing
# deployment keeps them (no destroy and create).
moved {
  from = oci_resource_scheduler_schedule.collector[0]
  to   = oci_resource_scheduler_schedule.job["audit-collector-catch-up"]
}

moved {
  from = oci_identity_policy.collector_schedule[0]
  to   = oci_identity_policy.schedule["audit-collector-catch-up"]
}

moved {
  from = oci_resource_scheduler_schedule.datasafe_collector[0]
  to   = oci_resource_scheduler_schedule.job["datasafe-collector-catch-up"]
}

moved {
  from = oci_identity_policy.datasafe_collector_schedule[0]
  to   = oci_identity_policy.schedule["datasafe-collector-catch-up"]
}
