locals {
  bucket_name = coalesce(var.bucket_name, "${var.name_prefix}-audit")
  namespace   = data.oci_objectstorage_namespace.this.namespace

  # The connector writes "<prefix>/<connector ocid>/<start>_<end>.<n>.log.gz".
  connector_prefix_path = "${var.connector_object_prefix}/"

  audit_source_compartment = coalesce(var.audit_source_compartment_ocid, var.tenancy_ocid)
  # Connector Hub sentinels (valid only in log_sources, never as a Logging log group id).
  audit_log_group = var.include_subcompartments ? "_Audit_Include_Subcompartment" : "_Audit"
  # Logging query filter; the explicit `or` chain is the form known to work in connectors.
  audit_filter = "(${join(" or ", [for a in var.audit_actions : "data.request.action='${a}'"])})"

  log_compartment    = coalesce(var.log_compartment_ocid, var.compartment_ocid)
  secret_compartment = coalesce(var.logzio_secret_compartment_ocid, var.compartment_ocid)
  policy_compartment = coalesce(var.policy_compartment_ocid, var.tenancy_ocid)

  logzio_secret_ocid = var.create_logzio_secret ? one(oci_vault_secret.logzio_token[*].id) : var.logzio_token_secret_ocid
  subnet_id          = var.create_network ? one(oci_core_subnet.functions[*].id) : var.subnet_ocid

  # Each sink's own settings, shared by its shipper function and (when it ships there) the
  # audit collector, so both always get the same listener, token secret, type or log.
  sink_configs = {
    "logzio" = tomap({
      LOGZIO_URL               = var.logzio_listener_url
      LOGZIO_TOKEN_SECRET_OCID = local.logzio_secret_ocid
      LOGZIO_TYPE              = var.logzio_type
    })
    "oci-logging" = tomap({
      OCI_LOG_ID = one(oci_logging_log.reingest[*].id)
    })
  }
  # Where each sink's shipper keeps its done-markers (function config LEDGER_PREFIX).
  ledger_prefixes = {
    "logzio"      = var.logzio_ledger_prefix
    "oci-logging" = var.logging_ledger_prefix
  }
  # Bucket layout every function of a sink shares: dead letters and that sink's ledger.
  layout_configs = {
    for sink, ledger in local.ledger_prefixes : sink => tomap({
      DEAD_LETTER_PREFIX = var.dead_letter_prefix
      LEDGER_PREFIX      = ledger
    })
  }

  # Custom metrics (metrics_enabled): every function of the pipeline posts them with
  # PostMetricData to this compartment and namespace (functions/auditship/config.py reads the
  # keys); the alarms (alarms.tf) read them there. Left out when off: the code posts nothing.
  metrics_compartment = coalesce(var.metrics_compartment_ocid, var.compartment_ocid)
  metrics_config = var.metrics_enabled ? tomap({
    METRICS_COMPARTMENT_OCID = local.metrics_compartment
    METRICS_NAMESPACE        = var.metrics_namespace
  }) : tomap({})

  # Function name => image and config. Config key names are read by functions/ and are final.
  function_specs = {
    "logzio-shipper" = {
      enabled = var.enable_logzio_function
      image   = var.logzio_image
      config  = merge(local.sink_configs["logzio"], local.layout_configs["logzio"], local.metrics_config)
    }
    "oci-logging-shipper" = {
      enabled = var.enable_logging_function
      image   = var.logging_image
      config  = merge(local.sink_configs["oci-logging"], local.layout_configs["oci-logging"], local.metrics_config)
    }
  }
  functions = { for name, spec in local.function_specs : name => spec if spec.enabled }

  # Upload prefixes that are on (issue 13), by source, and every prefix whose new objects the
  # shippers ship: the connector's output first. The Events rule, the lifecycle rules and the
  # sweep schedules are all built from this one map, so they always cover the same prefixes.
  upload_prefixes     = { for source, prefix in { fmw = var.fmw_upload_prefix, dbaudit = var.dbaudit_upload_prefix } : source => prefix if prefix != null }
  shipped_prefixes    = merge({ connector = local.connector_prefix_path }, local.upload_prefixes)
  shipped_prefix_list = concat([local.connector_prefix_path], [for source in sort(keys(local.upload_prefixes)) : local.upload_prefixes[source]])
}

# Patterns the variables' validations share (Terraform 1.9+ lets a validation refer to locals).
# A validation must still name its own variable, so each condition spells out how the pattern
# is applied; only the rule itself lives here, once.
locals {
  # An OCIR image with a tag or a digest.
  ocir_image_pattern = "^([a-z0-9-]+\\.ocir\\.io|ocir\\.[a-z0-9-]+\\.oci\\.oraclecloud\\.com)/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$"
  # An OCI region identifier such as eu-frankfurt-1.
  region_pattern = "^[a-z]{2,}(-[a-z]+)+-[0-9]+$"
  # A compartment (or the tenancy, the root compartment) OCID.
  compartment_ocid_pattern = "^ocid1\\.(compartment|tenancy)\\.oc[0-9]+\\.\\.[a-z0-9]+$"
  # A Logz.io log type / record type: no spaces (functions/auditship/config.py _log_type).
  log_type_pattern = "^[A-Za-z0-9_.-]{1,100}$"
  # Memory sizes OCI Functions accepts.
  function_memory_sizes = [128, 256, 512, 1024, 2048, 3072]
  # Where a collector may ship (function config SINK).
  collector_sinks = ["logzio", "oci-logging"]
  # Durations as functions/auditship/config.py reads them: whole minutes, written with the
  # units m, h, d, w (1h30m); a duration's minutes are the sum over its parts.
  duration_pattern      = "^([0-9]+[mhdw])+$"
  duration_part_pattern = "([0-9]+)([mhdw])"
  duration_unit_minutes = { m = 1, h = 60, d = 1440, w = 10080 }
  # Five space-separated UNIX cron fields (Resource Scheduler recurrence_type CRON).
  cron_pattern = "^[0-9*,/-]+( [0-9A-Za-z*,/-]+){4}$"
  # An upload prefix: one path segment ending in '/' (so an IAM name pattern needs no '/').
  upload_prefix_pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*/$"
  # Pending durations of the alarms whose windows are checked against the retention.
  alarm_pending_minutes = { no_delivery = 5, delivery_lag = 15 }
}
