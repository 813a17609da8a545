# The audit collector (audit_collector_enabled): a third function in the same application that
# reads the Audit API itself, in every subscribed region and compartment, and ships to the same
# sink as one of the shippers. A Resource Scheduler schedule runs its catch-up with `{}`;
# operators run backfills with {"audit": {"since": ..., "until": ...}}, which it fans out by
# invoking itself detached. It is not an Events target. IAM: iam.tf; README: "Audit collector".

# What the collectors share (this one and the Data Safe collector, datasafe_collector.tf): the
# same sink settings and bucket layout as the shipper of their sink, state under that sink's
# ledger prefix, the same COLLECT_* keys. Each is keyed by its API source, which is also the
# payload key ({"audit": ...}, {"datasafe": ...}) and its state's sub-folder (<STATE_DIR><source>/).
locals {
  # logzio when that shipper is on (its token secret is then validated), else oci-logging.
  collector_default_sink = var.enable_logzio_function ? "logzio" : "oci-logging"

  # State lives under the ledger prefix of the sink's shipper, so that shipper treats it as its
  # own (never ships it on a prefix replay). The ledger lifecycle rule excludes it; it has a
  # rule of its own (storage.tf). Collectors of one sink share it: each writes only under
  # <prefix><source>/.
  collector_state_prefixes = { for sink, ledger in local.ledger_prefixes : sink => "${ledger}collectors/" }
  collector_state_dirs     = { for sink, prefix in local.collector_state_prefixes : sink => "oci://${local.namespace}/${local.bucket_name}/${prefix}" }

  collectors = {
    audit = {
      enabled     = var.audit_collector_enabled
      sink        = coalesce(var.audit_collector_sink, local.collector_default_sink)
      compartment = var.audit_collector_compartment_ocid
      concurrency = var.audit_collector_concurrency
      lag         = var.audit_collector_lag
      overlap     = var.audit_collector_overlap
      window      = var.audit_collector_window
      regions     = var.audit_collector_regions
      # Sink keys it does not take, and keys of its own.
      omit  = []
      extra = tomap({})
    }
    datasafe = {
      enabled     = var.datasafe_collector_enabled
      sink        = coalesce(var.datasafe_collector_sink, local.collector_default_sink)
      compartment = var.datasafe_collector_compartment_ocid
      concurrency = var.datasafe_collector_concurrency
      lag         = var.datasafe_collector_lag
      overlap     = var.datasafe_collector_overlap
      window      = var.datasafe_collector_window
      regions     = var.datasafe_collector_regions
      # Without LOGZIO_TYPE a Data Safe run ships with DATASAFE_TYPE as its Logz.io type
      # (functions/auditship/entrypoints/collecting.py, source_settings); the shipper's
      # logzio_type ("oci-audit") would label Data Safe records as OCI audit records.
      omit = ["LOGZIO_TYPE"]
      extra = tomap({
        DATASAFE_TYPE   = var.datasafe_collector_type
        DATASAFE_REDACT = var.datasafe_collector_redact
      })
    }
  }

  # Where a collector reads: the whole tenancy (also when its compartment is the tenancy's
  # OCID), or one compartment's subtree.
  collector_scopes = { for source, c in local.collectors : source => startswith(coalesce(c.compartment, "ocid1.tenancy."), "ocid1.tenancy.") ? "tenancy" : "compartment id ${c.compartment}" }

  # The sink's settings and bucket layout exactly as its shipper gets them (locals.tf), plus the
  # collector's own keys. Optional keys are left out when empty: the code's default applies.
  collector_configs = {
    for source, c in local.collectors : source => merge(
      { for key, value in local.sink_configs[c.sink] : key => value if !contains(c.omit, key) },
      local.layout_configs[c.sink],
      tomap({
        SINK                = c.sink
        STATE_DIR           = local.collector_state_dirs[c.sink]
        COLLECT_CONCURRENCY = tostring(c.concurrency)
        COLLECT_LAG         = c.lag
        COLLECT_OVERLAP     = c.overlap
        COLLECT_WINDOW      = c.window
      }),
      length(c.regions) > 0 ? tomap({ COLLECT_REGIONS = join(",", c.regions) }) : tomap({}),
      c.compartment != null ? tomap({ COLLECT_COMPARTMENT_OCID = c.compartment }) : tomap({}),
      c.extra,
      local.metrics_config,
    )
  }

  # State prefixes of the collectors that are on (storage.tf), and the sinks they ship to.
  enabled_collector_state_prefixes = distinct([for c in values(local.collectors) : local.collector_state_prefixes[c.sink] if c.enabled])
  enabled_collector_sinks          = distinct([for c in values(local.collectors) : c.sink if c.enabled])

  # This collector.
  collector_sink             = local.collectors.audit.sink
  collector_state_prefix     = local.collector_state_prefixes[local.collector_sink]
  collector_state_dir        = local.collector_state_dirs[local.collector_sink]
  collector_audit_scope      = local.collector_scopes["audit"]
  collector_config           = local.collector_configs["audit"]
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

# Its catch-up schedule and that schedule's policy: schedules.tf (job "audit-collector-catch-up").
