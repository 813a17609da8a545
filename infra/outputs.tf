output "bucket_name" {
  description = "Bucket the connector writes to (and the functions write dead letters and markers into)."
  value       = oci_objectstorage_bucket.audit.name
}

output "namespace" {
  description = "Object Storage namespace of the bucket."
  value       = local.namespace
}

output "connector_object_prefix" {
  description = "Prefix of the connector's objects; the Events rule and the lifecycle rule match only this."
  value       = local.connector_prefix_path
}

output "service_connector_id" {
  description = "OCID of the Service Connector."
  value       = oci_sch_service_connector.audit.id
}

output "events_rule_id" {
  description = "OCID of the Events rule that invokes the functions."
  value       = oci_events_rule.object_created.id
}

output "application_id" {
  description = "OCID of the Functions application."
  value       = oci_functions_application.this.id
}

output "function_ids" {
  description = "Function name => OCID (for `fn invoke` or replay)."
  value       = { for name, f in oci_functions_function.shipper : name => f.id }
}

output "log_group_id" {
  description = "OCID of the log group."
  value       = oci_logging_log_group.this.id
}

output "custom_log_id" {
  description = "OCID of the re-ingestion custom log (OCI_LOG_ID), or null when the Logging function is off."
  value       = one(oci_logging_log.reingest[*].id)
}

output "invoke_log_id" {
  description = "OCID of the functions invocation log."
  value       = oci_logging_log.invoke.id
}

output "logzio_token_secret_ocid" {
  description = "OCID of the Vault secret the Logz.io function reads."
  value       = local.logzio_secret_ocid
}

output "subnet_id" {
  description = "Subnet of the Functions application."
  value       = local.subnet_id
}

output "dynamic_group_names" {
  description = "Function name => dynamic group name."
  value       = { for name, dg in oci_identity_dynamic_group.shipper : name => dg.name }
}

output "audit_collector_function_id" {
  description = "OCID of the audit-collector function, or null when audit_collector_enabled is false."
  value       = local.collector_function_id
}

output "audit_collector_schedule_id" {
  description = "OCID of the Resource Scheduler schedule that runs the collector's catch-up, or null when there is none."
  value       = one([for key, s in oci_resource_scheduler_schedule.job : s.id if key == "audit-collector-catch-up"])
}

output "audit_collector_state_dir" {
  description = "Where the collector keeps its checkpoint and backfill progress (function config STATE_DIR), or null."
  value       = var.audit_collector_enabled ? local.collector_state_dir : null
}

output "audit_collector_backfill_command" {
  description = "Example: backfill a stretch of time (edit since/until; RFC 3339, UTC) with the OCI CLI. null when the collector is off."
  value       = var.audit_collector_enabled ? "oci fn function invoke --function-id ${local.collector_function_id} --file - --body '{\"audit\":{\"since\":\"2026-06-01T00:00:00Z\",\"until\":\"2026-12-01T00:00:00Z\"}}'" : null
}

output "datasafe_collector_function_id" {
  description = "OCID of the datasafe-collector function, or null when datasafe_collector_enabled is false."
  value       = local.datasafe_collector_function_id
}

output "datasafe_collector_schedule_id" {
  description = "OCID of the Resource Scheduler schedule that runs the Data Safe collector's catch-up, or null when there is none."
  value       = one([for key, s in oci_resource_scheduler_schedule.job : s.id if key == "datasafe-collector-catch-up"])
}

output "datasafe_collector_state_dir" {
  description = "STATE_DIR of the Data Safe collector (its own state is under <STATE_DIR>datasafe/), or null."
  value       = var.datasafe_collector_enabled ? local.datasafe_collector_state_dir : null
}

output "datasafe_collector_backfill_command" {
  description = "Example: backfill the last 7 days of Data Safe audit events (edit since, a duration or an RFC 3339 time; add until) with the OCI CLI. null when the collector is off."
  value       = var.datasafe_collector_enabled ? "oci fn function invoke --function-id ${local.datasafe_collector_function_id} --file - --body '{\"datasafe\":{\"since\":\"7d\"}}'" : null
}

output "schedule_ids" {
  description = "Scheduled job (schedules.tf: audit-collector-catch-up, datasafe-collector-catch-up, <shipper>-sweep-<source>) => OCID of its Resource Scheduler schedule."
  value       = { for key, s in oci_resource_scheduler_schedule.job : key => s.id }
}

output "sweep_commands" {
  description = "Scheduled sweep => the OCI CLI command that runs it now, by hand (the same body the schedule sends)."
  value       = { for key, body in local.sweep_payloads : key => "oci fn function invoke --function-id ${local.scheduled_jobs[key].function_id} --file - --body '${body}'" }
}

output "shipped_prefixes" {
  description = "Prefixes of the bucket whose new objects the shippers ship (connector output, then the upload prefixes), by source."
  value       = local.shipped_prefixes
}

output "notification_topic_id" {
  description = "OCID of the Notifications topic the alarms publish to (subscribe more endpoints to it), or null when metrics_enabled is false."
  value       = one(oci_ons_notification_topic.alarms[*].id)
}

output "alarm_ids" {
  description = "Alarm (alarms.tf) => OCID."
  value       = { for key, a in oci_monitoring_alarm.pipeline : key => a.id }
}

