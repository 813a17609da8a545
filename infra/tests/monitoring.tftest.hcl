# Metrics, the Notifications topic and the alarms (alarms.tf; issue 14), against mocked OCI:
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

run "alarms_defaults" {
  command = apply

  # --- topic, no subscription unless asked ---
  assert {
    condition = (
      oci_ons_notification_topic.alarms[0].name == "audit-ship-alarms" &&
      oci_ons_notification_topic.alarms[0].compartment_id == "ocid1.compartment.oc1..aaaapipeline" &&
      length(oci_ons_subscription.alarm_email) == 0
    )
    error_message = "one topic audit-ship-alarms in the pipeline's compartment, and no e-mail subscription by default"
  }

  # --- which alarms ---
  assert {
    condition = keys(oci_monitoring_alarm.pipeline) == [
      "logzio-objects-failed", "logzio-records-rejected", "logzio-runs-failed",
      "logzio-shipper-delivery-lag", "logzio-shipper-no-delivery",
      "oci-logging-objects-failed", "oci-logging-records-rejected", "oci-logging-runs-failed",
      "oci-logging-shipper-delivery-lag", "oci-logging-shipper-no-delivery",
    ]
    error_message = "three alarms per sink (rejected, failed objects, failed runs) and two per shipper (no delivery, lag)"
  }

  # --- the query text of each ---
  assert {
    condition = { for k, a in oci_monitoring_alarm.pipeline : k => a.query } == {
      "logzio-records-rejected"          = "RecordsRejected[5m]{sink = \"logzio\"}.groupBy(function).sum() > 0"
      "logzio-objects-failed"            = "ObjectsFailed[5m]{sink = \"logzio\"}.groupBy(function).sum() > 0"
      "logzio-runs-failed"               = "RunsFailed[5m]{sink = \"logzio\"}.groupBy(function).sum() > 0"
      "oci-logging-records-rejected"     = "RecordsRejected[5m]{sink = \"oci-logging\"}.groupBy(function).sum() > 0"
      "oci-logging-objects-failed"       = "ObjectsFailed[5m]{sink = \"oci-logging\"}.groupBy(function).sum() > 0"
      "oci-logging-runs-failed"          = "RunsFailed[5m]{sink = \"oci-logging\"}.groupBy(function).sum() > 0"
      "logzio-shipper-no-delivery"       = "RecordsShipped[6h]{function = \"logzio-shipper\"}.groupBy(function).sum() < 1"
      "oci-logging-shipper-no-delivery"  = "RecordsShipped[6h]{function = \"oci-logging-shipper\"}.groupBy(function).sum() < 1"
      "logzio-shipper-delivery-lag"      = "DeliveryLagSeconds[5m]{function = \"logzio-shipper\"}.groupBy(function).max() > 3600"
      "oci-logging-shipper-delivery-lag" = "DeliveryLagSeconds[5m]{function = \"oci-logging-shipper\"}.groupBy(function).max() > 3600"
    }
    error_message = "alarm queries changed"
  }
  assert {
    condition = alltrue([
      for k in ["logzio-shipper", "oci-logging-shipper"] : [
        for o in oci_monitoring_alarm.pipeline["${k}-no-delivery"].overrides : [o.rule_name, o.query, o.severity, o.pending_duration]
        ] == [
        ["no-metrics", "RecordsShipped[6h]{function = \"${k}\"}.groupBy(function).absent(72h)", "CRITICAL", "PT5M"]
      ]
    ])
    error_message = "the no-delivery alarm also fires, through an override, when no RecordsShipped datapoint arrives at all (absent)"
  }
  assert {
    condition     = alltrue([for k, a in oci_monitoring_alarm.pipeline : length(a.overrides) == 0 if !endswith(k, "-no-delivery")])
    error_message = "only the no-delivery alarms have an override"
  }

  # --- severity and pending duration ---
  assert {
    condition = { for k, a in oci_monitoring_alarm.pipeline : k => [a.severity, a.pending_duration] } == {
      "logzio-records-rejected"          = ["WARNING", "PT1M"]
      "logzio-objects-failed"            = ["ERROR", "PT1M"]
      "logzio-runs-failed"               = ["ERROR", "PT1M"]
      "oci-logging-records-rejected"     = ["WARNING", "PT1M"]
      "oci-logging-objects-failed"       = ["ERROR", "PT1M"]
      "oci-logging-runs-failed"          = ["ERROR", "PT1M"]
      "logzio-shipper-no-delivery"       = ["CRITICAL", "PT5M"]
      "oci-logging-shipper-no-delivery"  = ["CRITICAL", "PT5M"]
      "logzio-shipper-delivery-lag"      = ["ERROR", "PT15M"]
      "oci-logging-shipper-delivery-lag" = ["ERROR", "PT15M"]
    }
    error_message = "alarm severities or pending durations changed"
  }

  # --- where they read and where they notify ---
  assert {
    condition = alltrue([
      for a in oci_monitoring_alarm.pipeline :
      a.destinations == tolist([oci_ons_notification_topic.alarms[0].id]) &&
      a.namespace == "auditship" &&
      a.metric_compartment_id == "ocid1.compartment.oc1..aaaapipeline" &&
      a.compartment_id == "ocid1.compartment.oc1..aaaapipeline" &&
      a.is_enabled && a.is_notifications_per_metric_dimension_enabled &&
      a.message_format == "ONS_OPTIMIZED" && a.resolution == "1m" &&
      startswith(a.display_name, "audit-ship-")
    ])
    error_message = "every alarm reads namespace auditship in the pipeline's compartment, is on, and notifies the topic, one notification per function"
  }

  # --- the bodies: what to look at, and the real commands ---
  assert {
    condition = alltrue([
      for sink, flags in { "logzio" = "--to logzio", "oci-logging" = "--to oci-logging --log-id ${oci_logging_log.reingest[0].id}" } :
      strcontains(oci_monitoring_alarm.pipeline["${sink}-records-rejected"].body, "oci-audit-ship --dead-letters oci://testns/audit-ship-audit/dead-letter/<object name>/ ${flags}") &&
      strcontains(oci_monitoring_alarm.pipeline["${sink}-records-rejected"].body, "LEDGER_PREFIX=shipped/${sink}/ ") &&
      strcontains(oci_monitoring_alarm.pipeline["${sink}-objects-failed"].body, "oci-audit-ship --sweep oci://testns/audit-ship-audit/<prefix> --older-than 15m ${flags}") &&
      strcontains(oci_monitoring_alarm.pipeline["${sink}-shipper-no-delivery"].body, "oci-audit-ship --sweep oci://testns/audit-ship-audit/<prefix> --older-than 15m ${flags}") &&
      strcontains(oci_monitoring_alarm.pipeline["${sink}-shipper-delivery-lag"].body, "oci-audit-ship --sweep oci://testns/audit-ship-audit/<prefix> --older-than 15m ${flags}")
    ])
    error_message = "each body names the replay (--dead-letters) or sweep command for its sink, with the shipper's ledger"
  }
  assert {
    condition = (
      strcontains(oci_monitoring_alarm.pipeline["logzio-records-rejected"].body, "LOGZIO_TOKEN_SECRET_OCID=ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret") &&
      strcontains(oci_monitoring_alarm.pipeline["logzio-shipper-no-delivery"].body, "for 6 h") &&
      strcontains(oci_monitoring_alarm.pipeline["logzio-shipper-no-delivery"].body, "audit-ship-audit-to-bucket is ACTIVE") &&
      strcontains(oci_monitoring_alarm.pipeline["logzio-shipper-no-delivery"].body, "Events rule audit-ship-audit-object-created") &&
      strcontains(oci_monitoring_alarm.pipeline["logzio-shipper-delivery-lag"].body, "more than 3600 s") &&
      strcontains(oci_monitoring_alarm.pipeline["logzio-runs-failed"].body, "oci fn function invoke --function-id <collector ocid> --file - --body '{}'")
    )
    error_message = "bodies name the token secret, the window, the connector, the Events rule, the threshold and the catch-up command"
  }
  assert {
    condition = alltrue([
      for a in oci_monitoring_alarm.pipeline :
      strcontains(a.body, "audit-ship-app-invoke") && strcontains(a.body, "docs/operations.md") && length(a.body) <= 1000
    ])
    error_message = "every body points at the invocation log and the runbook, in at most 1000 characters"
  }
  assert {
    condition = alltrue([
      for k in ["logzio-objects-failed", "logzio-shipper-no-delivery", "logzio-shipper-delivery-lag"] :
      strcontains(oci_monitoring_alarm.pipeline[k].body, "deleted 3 days after they were written") &&
      strcontains(oci_monitoring_alarm.pipeline[k].body, "audit/, dbaudit/, fmw/")
    ])
    error_message = "the failure and delivery bodies say when unshipped objects go, and which prefixes to sweep"
  }

  # --- the functions post there, and may post nothing else ---
  assert {
    condition = alltrue([
      for f in oci_functions_function.shipper :
      f.config["METRICS_COMPARTMENT_OCID"] == "ocid1.compartment.oc1..aaaapipeline" && f.config["METRICS_NAMESPACE"] == "auditship"
    ])
    error_message = "every shipper gets METRICS_COMPARTMENT_OCID and METRICS_NAMESPACE"
  }
  assert {
    condition = [for s in oci_identity_policy.functions.statements : s if strcontains(s, " metrics ")] == [
      "Allow dynamic-group audit-ship-logzio-shipper to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'",
      "Allow dynamic-group audit-ship-oci-logging-shipper to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'",
    ]
    error_message = "each shipper may post metrics to its namespace only"
  }

  # --- outputs ---
  assert {
    condition     = output.notification_topic_id == oci_ons_notification_topic.alarms[0].id && keys(output.alarm_ids) == keys(oci_monitoring_alarm.pipeline)
    error_message = "topic and alarm outputs"
  }
}

run "alarm_email_subscription" {
  command = apply

  variables {
    alarm_email = "oncall@example.com"
  }

  assert {
    condition = (
      length(oci_ons_subscription.alarm_email) == 1 &&
      oci_ons_subscription.alarm_email[0].protocol == "EMAIL" &&
      oci_ons_subscription.alarm_email[0].endpoint == "oncall@example.com" &&
      oci_ons_subscription.alarm_email[0].topic_id == oci_ons_notification_topic.alarms[0].id &&
      oci_ons_subscription.alarm_email[0].compartment_id == "ocid1.compartment.oc1..aaaapipeline"
    )
    error_message = "alarm_email subscribes that address to the alarms' topic"
  }
}

run "metrics_off" {
  command = apply

  variables {
    metrics_enabled = false
    alarm_email     = "oncall@example.com"
  }

  assert {
    condition = (
      length(oci_ons_notification_topic.alarms) == 0 && length(oci_ons_subscription.alarm_email) == 0 &&
      length(oci_monitoring_alarm.pipeline) == 0 && output.notification_topic_id == null
    )
    error_message = "no topic, no subscription and no alarm without metrics"
  }
  assert {
    condition = (
      alltrue([for f in oci_functions_function.shipper : !contains(keys(f.config), "METRICS_COMPARTMENT_OCID") && !contains(keys(f.config), "METRICS_NAMESPACE")]) &&
      alltrue([for s in oci_identity_policy.functions.statements : !strcontains(s, " metrics ")])
    )
    error_message = "no metrics config and no metrics grant when metrics are off"
  }
}

run "custom_namespace_compartment_and_windows" {
  command = apply

  variables {
    metrics_namespace          = "corp_audit"
    metrics_compartment_ocid   = "ocid1.compartment.oc1..aaaametrics"
    processed_retention_days   = 2
    alarm_no_delivery_hours    = 12
    alarm_delivery_lag_seconds = 7200
  }

  assert {
    condition = (
      oci_monitoring_alarm.pipeline["logzio-shipper-no-delivery"].query == "RecordsShipped[12h]{function = \"logzio-shipper\"}.groupBy(function).sum() < 1" &&
      oci_monitoring_alarm.pipeline["logzio-shipper-no-delivery"].overrides[0].query == "RecordsShipped[12h]{function = \"logzio-shipper\"}.groupBy(function).absent(72h)" &&
      oci_monitoring_alarm.pipeline["logzio-shipper-delivery-lag"].query == "DeliveryLagSeconds[5m]{function = \"logzio-shipper\"}.groupBy(function).max() > 7200"
    )
    error_message = "the windows come from alarm_no_delivery_hours and alarm_delivery_lag_seconds"
  }
  assert {
    condition     = alltrue([for a in oci_monitoring_alarm.pipeline : a.namespace == "corp_audit" && a.metric_compartment_id == "ocid1.compartment.oc1..aaaametrics" && a.compartment_id == "ocid1.compartment.oc1..aaaapipeline"])
    error_message = "alarms read the metrics namespace and compartment, and live in the pipeline's compartment"
  }
  assert {
    condition = (
      oci_functions_function.shipper["logzio-shipper"].config["METRICS_COMPARTMENT_OCID"] == "ocid1.compartment.oc1..aaaametrics" &&
      oci_functions_function.shipper["logzio-shipper"].config["METRICS_NAMESPACE"] == "corp_audit" &&
      contains(oci_identity_policy.functions.statements, "Allow dynamic-group audit-ship-logzio-shipper to use metrics in compartment id ocid1.compartment.oc1..aaaametrics where target.metrics.namespace = 'corp_audit'")
    )
    error_message = "functions post to, and may only post to, the chosen namespace in the chosen compartment"
  }
  assert {
    condition     = strcontains(oci_monitoring_alarm.pipeline["logzio-objects-failed"].body, "deleted 2 days after they were written")
    error_message = "the bodies follow processed_retention_days"
  }
}

run "connector_paused" {
  command = apply

  variables {
    connector_active = false
  }

  assert {
    condition     = oci_sch_service_connector.audit.state == "INACTIVE"
    error_message = "connector_active = false makes the connector INACTIVE"
  }
  assert {
    condition     = alltrue([for k, a in oci_monitoring_alarm.pipeline : a.is_enabled == !endswith(k, "-no-delivery")])
    error_message = "only the no-delivery alarms are disabled while the connector does not run"
  }
}

run "collector_sink_without_its_shipper" {
  command = apply

  variables {
    enable_logging_function = false
    logging_image           = null
    audit_collector_enabled = true
    audit_collector_image   = "fra.ocir.io/testns/audit-ship/audit-collector:0.1.0"
    audit_collector_sink    = "oci-logging"
  }

  assert {
    condition = keys(oci_monitoring_alarm.pipeline) == [
      "logzio-objects-failed", "logzio-records-rejected", "logzio-runs-failed",
      "logzio-shipper-delivery-lag", "logzio-shipper-no-delivery",
      "oci-logging-objects-failed", "oci-logging-records-rejected", "oci-logging-runs-failed",
    ]
    error_message = "the collector's sink is watched; there is no delivery alarm for a shipper that is off"
  }
  assert {
    condition = (
      oci_functions_function.collector[0].config["METRICS_NAMESPACE"] == "auditship" &&
      contains(oci_identity_policy.collector[0].statements, "Allow dynamic-group audit-ship-audit-collector to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'")
    )
    error_message = "the collector posts its metrics (RunsFailed) like the shippers"
  }
}

# --- validations: the alarm windows against the retention, names (plan stops first) ---

run "accepts_no_delivery_window_of_half_the_retention" {
  command = plan
  variables {
    processed_retention_days = 1
    alarm_no_delivery_hours  = 11
  }
}

run "rejects_no_delivery_window_not_well_before_retention" {
  command = plan
  variables {
    processed_retention_days = 1
    alarm_no_delivery_hours  = 12
  }
  expect_failures = [var.alarm_no_delivery_hours]
}

run "rejects_lag_window_not_well_before_retention" {
  command = plan
  variables {
    alarm_delivery_lag_seconds = 129000
  }
  expect_failures = [var.alarm_delivery_lag_seconds]
}

run "rejects_retention_shortened_under_the_alarm_windows" {
  command = plan
  variables {
    processed_retention_days   = 1
    alarm_no_delivery_hours    = 20
    alarm_delivery_lag_seconds = 43200
  }
  expect_failures = [var.alarm_no_delivery_hours, var.alarm_delivery_lag_seconds]
}

run "rejects_no_delivery_outside_the_mql_interval" {
  command = plan
  variables {
    processed_retention_days = 10
    ledger_retention_days    = 10
    alarm_no_delivery_hours  = 25
  }
  expect_failures = [var.alarm_no_delivery_hours]
}

run "rejects_lag_under_five_minutes" {
  command = plan
  variables {
    alarm_delivery_lag_seconds = 60
  }
  expect_failures = [var.alarm_delivery_lag_seconds]
}

run "rejects_reserved_namespace" {
  command = plan
  variables {
    metrics_namespace = "oci_audit_ship"
  }
  expect_failures = [var.metrics_namespace]
}

run "rejects_namespace_with_dash" {
  command = plan
  variables {
    metrics_namespace = "audit-ship"
  }
  expect_failures = [var.metrics_namespace]
}

run "rejects_bad_email" {
  command = plan
  variables {
    alarm_email = "oncall"
  }
  expect_failures = [var.alarm_email]
}

run "rejects_bad_metrics_compartment" {
  command = plan
  variables {
    metrics_compartment_ocid = "ocid1.bucket.oc1..aaaa"
  }
  expect_failures = [var.metrics_compartment_ocid]
}
