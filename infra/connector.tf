resource "oci_sch_service_connector" "audit" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-audit-to-bucket"
  description    = "Writes ${join("/", var.audit_actions)} _Audit records to ${local.bucket_name}/${local.connector_prefix_path}"
  # connector_active = false pauses it (and the no-delivery alarms with it, alarms.tf).
  state         = var.connector_active ? "ACTIVE" : "INACTIVE"
  freeform_tags = var.freeform_tags

  source {
    kind = "logging"
    log_sources {
      compartment_id = local.audit_source_compartment
      log_group_id   = local.audit_log_group
    }
  }

  tasks {
    kind      = "logRule"
    condition = local.audit_filter
  }

  target {
    kind                       = "objectStorage"
    bucket                     = oci_objectstorage_bucket.audit.name
    namespace                  = local.namespace
    object_name_prefix         = var.connector_object_prefix
    batch_rollover_size_in_mbs = var.rollover_size_mb
    batch_rollover_time_in_ms  = var.rollover_time_ms
  }

  # The connector checks its write permission when it starts.
  depends_on = [oci_identity_policy.connector]
}
