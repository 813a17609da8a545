# Notifications topic and Monitoring alarms on the custom metrics the functions post
# (metrics_enabled; issue 14). Every function, and every operator run given
# --metrics-compartment, posts to namespace var.metrics_namespace (default "auditship") with
# the dimensions `function` (the function's name, or `cli`) and `sink` (`logzio`,
# `oci-logging`): RecordsShipped, RecordsRejected, ObjectsFailed, RunsFailed (API collectors),
# DeliveryLagSeconds (now minus the newest delivered record's own time), DeadLettersWritten.
#
# Alarms (key => what fires it):
#   <sink>-records-rejected           RecordsRejected[5m]{sink}.groupBy(function).sum() > 0
#   <sink>-objects-failed             ObjectsFailed[5m]{sink}.groupBy(function).sum() > 0
#   <sink>-runs-failed                RunsFailed[5m]{sink}.groupBy(function).sum() > 0
#   <shipper>-no-delivery             RecordsShipped[<N>h]{function}.groupBy(function).sum() < 1, and
#                                     (override) RecordsShipped[<N>h]{function}.groupBy(function).absent(72h)
#   <shipper>-delivery-lag            DeliveryLagSeconds[5m]{function}.groupBy(function).max() > <threshold>
# for each sink some function ships to, and each shipper function that is on. Each body says
# what to look at and the command that sends again what was not delivered; docs/operations.md
# ("Alarms") has the runbook. The windows of the last two are checked against the retention of
# unshipped objects (variables.tf: alarm_no_delivery_hours, alarm_delivery_lag_seconds).

resource "oci_ons_notification_topic" "alarms" {
  count = var.metrics_enabled ? 1 : 0

  compartment_id = var.compartment_ocid
  # Unique in the tenancy; letters, digits, '-' and '_' (name_prefix is validated).
  name          = "${var.name_prefix}-alarms"
  description   = "Alarms of the ${var.name_prefix} audit shipping pipeline (bucket ${local.bucket_name})"
  freeform_tags = var.freeform_tags
}

# The recipient must confirm the subscription from the mail Notifications sends; until then it
# stays PENDING and receives nothing.
resource "oci_ons_subscription" "alarm_email" {
  count = var.metrics_enabled && var.alarm_email != "" ? 1 : 0

  compartment_id = var.compartment_ocid
  topic_id       = oci_ons_notification_topic.alarms[0].id
  protocol       = "EMAIL"
  endpoint       = var.alarm_email
  freeform_tags  = var.freeform_tags
}

locals {
  # Sinks something ships to: the shippers' and the collectors'.
  alarm_sinks = var.metrics_enabled ? sort(distinct(concat([for name in keys(local.functions) : local.shipper_sinks[name]], local.enabled_collector_sinks))) : []
  # Shipper functions whose delivery is watched (the Events rule's targets).
  alarm_shippers = var.metrics_enabled ? { for name in keys(local.functions) : name => local.shipper_sinks[name] } : {}

  alarm_bucket_url = "oci://${local.namespace}/${local.bucket_name}/"
  alarm_invoke_log = "${var.name_prefix}-app-invoke in log group ${var.name_prefix}-logs"
  alarm_runbook    = "Runbook: docs/operations.md, section Alarms."
  alarm_prefixes   = join(", ", local.shipped_prefix_list)

  # How the operator command reaches each sink as its shipper does: the same ledger (so it
  # sees the function's done markers), the same destination.
  alarm_cli = {
    "logzio" = {
      env   = "LEDGER_PREFIX=${local.ledger_prefixes["logzio"]} LOGZIO_URL=${var.logzio_listener_url} LOGZIO_TOKEN_SECRET_OCID=${coalesce(local.logzio_secret_ocid, "<token secret ocid>")}"
      flags = "--to logzio"
    }
    "oci-logging" = {
      env   = "LEDGER_PREFIX=${local.ledger_prefixes["oci-logging"]}"
      flags = "--to oci-logging --log-id ${try(oci_logging_log.reingest[0].id, "<custom log ocid>")}"
    }
  }
  alarm_sweep_cli = { for sink, c in local.alarm_cli : sink => "${c.env} oci-audit-ship --sweep ${local.alarm_bucket_url}<prefix> --older-than ${var.sweep_older_than} ${c.flags}" }

  alarm_specs = concat(
    flatten([
      for sink in local.alarm_sinks : [
        {
          key      = "${sink}-records-rejected"
          severity = "WARNING"
          pending  = "PT1M"
          enabled  = true
          query    = "RecordsRejected[5m]{sink = \"${sink}\"}.groupBy(function).sum() > 0"
          absent   = null
          body     = "{{dimensions.function}} (cli = an operator run) dead-lettered records it could not deliver to ${sink}: {{metricValues}}. Look at the run's summary (rejected, errors) in the invocation log ${local.alarm_invoke_log}, and at the letters under ${local.alarm_bucket_url}${var.dead_letter_prefix}<object name>/ (fields kind, reason; both shippers write there, a sink letter's reason names the sink that refused it). Once the cause is fixed, ship them again (the prefix, or only the parts refused by ${sink}): ${local.alarm_cli[sink].env} oci-audit-ship --dead-letters ${local.alarm_bucket_url}${var.dead_letter_prefix}<object name>/ ${local.alarm_cli[sink].flags}. Dead letters are kept ${var.dead_letter_retention_days == null ? "until removed" : "${var.dead_letter_retention_days} days"}. ${local.alarm_runbook}"
        },
        {
          key      = "${sink}-objects-failed"
          severity = "ERROR"
          pending  = "PT1M"
          enabled  = true
          query    = "ObjectsFailed[5m]{sink = \"${sink}\"}.groupBy(function).sum() > 0"
          absent   = null
          body     = "{{dimensions.function}} left objects not completely shipped to ${sink}: {{metricValues}} (deadline, sink outage or refusal, a lease another call holds, a missing grant). Look at errors in the invocation log ${local.alarm_invoke_log}. The progress markers hold: the hourly sweep resumes them. To sweep now (prefix ${local.alarm_prefixes}): ${local.alarm_sweep_cli[sink]}. Unshipped objects are deleted ${var.processed_retention_days} days after they were written. ${local.alarm_runbook}"
        },
        {
          key      = "${sink}-runs-failed"
          severity = "ERROR"
          pending  = "PT1M"
          enabled  = true
          query    = "RunsFailed[5m]{sink = \"${sink}\"}.groupBy(function).sum() > 0"
          absent   = null
          body     = "An API collector run of {{dimensions.function}} (audit-collector, datasafe-collector, cli) shipping to ${sink} failed: {{metricValues}} (windows.failed: API errors, throttling, a missing grant, the deadline). Look at errors in the invocation log ${local.alarm_invoke_log}. The checkpoint does not pass a failed window: the next catch-up asks it again; to run one now: oci fn function invoke --function-id <collector ocid> --file - --body '{}'. A failed fan-out part: invoke its payload from the plan under STATE_DIR/<source>/plans/. ${local.alarm_runbook}"
        },
      ]
    ]),
    flatten([
      for name, sink in local.alarm_shippers : [
        {
          key      = "${name}-no-delivery"
          severity = "CRITICAL"
          pending  = "PT${local.alarm_pending_minutes.no_delivery}M"
          # "while the connector runs": a paused connector delivers nothing by design.
          enabled = var.connector_active
          # No record delivered in the window ... or (override) no metric at all: nothing ran.
          query  = "RecordsShipped[${var.alarm_no_delivery_hours}h]{function = \"${name}\"}.groupBy(function).sum() < 1"
          absent = "RecordsShipped[${var.alarm_no_delivery_hours}h]{function = \"${name}\"}.groupBy(function).absent(72h)"
          body   = "${name} delivered no record to ${sink} for ${var.alarm_no_delivery_hours} h, or posted no metric at all, while the Service Connector ${var.name_prefix}-audit-to-bucket is ACTIVE. Look in order: the connector's state and new objects under ${local.alarm_bucket_url}${local.connector_prefix_path}; the Events rule ${var.name_prefix}-audit-object-created (enabled, its action for ${name}); errors in the invocation log ${local.alarm_invoke_log} (401/403: token or grants); the function's use-metrics grant. Then sweep what was missed (prefix ${local.alarm_prefixes}): ${local.alarm_sweep_cli[sink]}. Unshipped objects are deleted ${var.processed_retention_days} days after they were written. ${local.alarm_runbook}"
        },
        {
          key      = "${name}-delivery-lag"
          severity = "ERROR"
          pending  = "PT${local.alarm_pending_minutes.delivery_lag}M"
          enabled  = true
          query    = "DeliveryLagSeconds[5m]{function = \"${name}\"}.groupBy(function).max() > ${var.alarm_delivery_lag_seconds}"
          absent   = null
          body     = "${name} delivers records to ${sink} more than ${var.alarm_delivery_lag_seconds} s after their own time, for ${local.alarm_pending_minutes.delivery_lag} minutes: {{metricValues}}. Look at the invocation log ${local.alarm_invoke_log}: run times near the timeout (deadline reached), sink throttling (429) or slowness, objects waiting under ${local.alarm_prefixes}. Objects that stay behind are deleted ${var.processed_retention_days} days after they were written; sweep them: ${local.alarm_sweep_cli[sink]}. ${local.alarm_runbook}"
        },
      ]
    ]),
  )

  alarms = { for a in local.alarm_specs : a.key => a }
}

resource "oci_monitoring_alarm" "pipeline" {
  for_each = local.alarms

  compartment_id        = var.compartment_ocid
  display_name          = "${var.name_prefix}-${each.key}"
  metric_compartment_id = local.metrics_compartment
  namespace             = var.metrics_namespace
  query                 = each.value.query
  resolution            = "1m"
  severity              = each.value.severity
  pending_duration      = each.value.pending
  body                  = each.value.body
  is_enabled            = each.value.enabled
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  # One notification per function (the metric stream of groupBy(function)), so the body's
  # {{dimensions.function}} names the one that failed.
  is_notifications_per_metric_dimension_enabled = true
  message_format                                = "ONS_OPTIMIZED"
  freeform_tags                                 = var.freeform_tags

  # Evaluated independently of the base rule: the absence of any RecordsShipped datapoint
  # (no invocation posted metrics) fires the alarm too, which a threshold on the sum cannot.
  dynamic "overrides" {
    for_each = each.value.absent == null ? [] : [each.value.absent]
    content {
      rule_name        = "no-metrics"
      query            = overrides.value
      severity         = each.value.severity
      pending_duration = each.value.pending
      body             = each.value.body
    }
  }
}
