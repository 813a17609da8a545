# The audit collector (audit_collector_enabled): a third function in the same application that
# reads the Audit API itself, in every subscribed region and compartment, and ships to the same
# sink as one of the shippers. A Resource Scheduler schedule runs its catch-up with `{}`;
# operators run backfills with {"audit": {"since": ..., "until": ...}}, which it fans out by
# invoking itself detached. It is not an Events target. IAM: iam.tf; README: "Audit collector".

locals {
  # logzio when that shipper is on (its token secret is then validated), else oci-logging.
  collector_sink = coalesce(var.audit_collector_sink, var.enable_logzio_function ? "logzio" : "oci-logging")

  # State lives under the ledger prefix of the sink's shipper, so that shipper treats it as its
  # own (never ships it on a prefix replay). The ledger lifecycle rule excludes it; it has a
  # rule of its own (storage.tf).
  collector_state_prefix = "${local.ledger_prefixes[local.collector_sink]}collectors/"
  collector_state_dir    = "oci://${local.namespace}/${local.bucket_name}/${local.collector_state_prefix}"

  # Where the collector reads audit events and lists compartments: the whole tenancy (also when
  # audit_collector_compartment_ocid is the tenancy's OCID), or one compartment's subtree.
  collector_audit_scope = startswith(coalesce(var.audit_collector_compartment_ocid, "ocid1.tenancy."), "ocid1.tenancy.") ? "tenancy" : "compartment id ${var.audit_collector_compartment_ocid}"

  # The sink's settings and bucket layout exactly as its shipper gets them (locals.tf), plus the
  # collector's own keys. Optional keys are left out when empty: the code's default applies.
  collector_config = merge(
    local.sink_configs[local.collector_sink],
    local.layout_configs[local.collector_sink],
    tomap({
      SINK                = local.collector_sink
      STATE_DIR           = local.collector_state_dir
      COLLECT_CONCURRENCY = tostring(var.audit_collector_concurrency)
      COLLECT_LAG         = var.audit_collector_lag
      COLLECT_OVERLAP     = var.audit_collector_overlap
      COLLECT_WINDOW      = var.audit_collector_window
    }),
    length(var.audit_collector_regions) > 0 ? tomap({ COLLECT_REGIONS = join(",", var.audit_collector_regions) }) : tomap({}),
    var.audit_collector_compartment_ocid != null ? tomap({ COLLECT_COMPARTMENT_OCID = var.audit_collector_compartment_ocid }) : tomap({}),
  )

  collector_schedule_enabled = var.audit_collector_enabled && var.audit_collector_schedule_enabled
}

resource "oci_functions_function" "collector" {
  count = var.audit_collector_enabled ? 1 : 0

  application_id = oci_functions_application.this.id
  display_name   = "audit-collector"
  image          = var.audit_collector_image
  memory_in_mbs  = var.audit_collector_memory_mb
  # The maximum for synchronous invocations; a run stops starting work before its deadline and
  # the next one resumes from the checkpoint.
  timeout_in_seconds = 300
  config             = local.collector_config
  freeform_tags      = var.freeform_tags
}

# Catch-up: START_RESOURCE on a function invokes it, here with the body `{}`. recurrence_type
# is CRON or ICAL (the provider does not validate them; the SDK enum does), and `value` of a
# BODY parameter is a one-element list holding a JSON document.
resource "oci_resource_scheduler_schedule" "collector" {
  count = local.collector_schedule_enabled ? 1 : 0

  compartment_id     = var.compartment_ocid
  display_name       = "${var.name_prefix}-audit-collector-catch-up"
  description        = "Runs the audit-collector catch-up (body {}) on ${var.audit_collector_schedule_cron} (UTC)"
  action             = "START_RESOURCE"
  recurrence_type    = "CRON"
  recurrence_details = var.audit_collector_schedule_cron
  freeform_tags      = var.freeform_tags

  resources {
    id = oci_functions_function.collector[0].id

    parameters {
      parameter_type = "BODY"
      value          = [jsonencode({})]
    }
  }

  # The function needs its own grants before its first scheduled run.
  depends_on = [oci_identity_policy.collector]
}
