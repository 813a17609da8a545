# The Data Safe collector (datasafe_collector_enabled): a function in the same application that
# reads Oracle Data Safe audit events (ListAuditEvents with compartmentIdInSubtree=true and
# accessLevel=ACCESSIBLE, from the tenancy or one compartment, in every subscribed region) and
# ships them to the same sink as one of the shippers, with their own type (DATASAFE_TYPE). Built
# like the audit collector (collector.tf, whose shared locals it uses): a Resource Scheduler
# schedule runs its catch-up with `{}`; operators run backfills with {"datasafe": {"since": ...}},
# which it fans out by invoking itself detached. Not an Events target. IAM: iam.tf; README:
# "Data Safe collector".

locals {
  datasafe_collector_sink             = local.collectors.datasafe.sink
  datasafe_collector_state_prefix     = local.collector_state_prefixes[local.datasafe_collector_sink]
  datasafe_collector_state_dir        = local.collector_state_dirs[local.datasafe_collector_sink]
  datasafe_collector_scope            = local.collector_scopes["datasafe"]
  datasafe_collector_config           = local.collector_configs["datasafe"]
  datasafe_collector_schedule_enabled = var.datasafe_collector_enabled && var.datasafe_collector_schedule_enabled
}

resource "oci_functions_function" "datasafe_collector" {
  count = var.datasafe_collector_enabled ? 1 : 0

  application_id = oci_functions_application.this.id
  display_name   = "datasafe-collector"
  image          = var.datasafe_collector_image
  memory_in_mbs  = var.datasafe_collector_memory_mb
  # The maximum for synchronous invocations; a run stops starting work before its deadline and
  # the next one resumes from the checkpoint.
  timeout_in_seconds = 300
  config             = local.datasafe_collector_config
  freeform_tags      = var.freeform_tags
}

# Its catch-up schedule and that schedule's policy: schedules.tf (job "datasafe-collector-catch-up").
