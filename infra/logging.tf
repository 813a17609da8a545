resource "oci_logging_log_group" "this" {
  compartment_id = local.log_compartment
  display_name   = "${var.name_prefix}-logs"
  description    = "Audit re-ingestion and function invocation logs"
  freeform_tags  = var.freeform_tags
}

# Custom log the oci-logging-shipper function (and a collector that ships to oci-logging)
# writes into with PutLogs (function config OCI_LOG_ID).
resource "oci_logging_log" "reingest" {
  count = var.enable_logging_function || contains(local.enabled_collector_sinks, "oci-logging") ? 1 : 0

  log_group_id       = oci_logging_log_group.this.id
  display_name       = "${var.name_prefix}-audit-reingest"
  log_type           = "CUSTOM"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags
}

# stdout/stderr and invocation results of every function in the application.
resource "oci_logging_log" "invoke" {
  log_group_id       = oci_logging_log_group.this.id
  display_name       = "${var.name_prefix}-app-invoke"
  log_type           = "SERVICE"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags

  configuration {
    compartment_id = var.compartment_ocid
    source {
      source_type = "OCISERVICE"
      service     = "functions"
      category    = "invoke"
      resource    = oci_functions_application.this.id
    }
  }
}
