resource "oci_events_rule" "object_created" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-audit-object-created"
  description    = "Ships each new object in ${local.bucket_name} under ${join(", ", local.shipped_prefix_list)}"
  is_enabled     = true
  freeform_tags  = var.freeform_tags

  # Only objects under the shipped prefixes: the connector's output and the upload prefixes
  # for Oracle audit files (fmw/, dbaudit/; locals.tf). The functions write dead letters and
  # done-markers into the same bucket, and those writes must not trigger them again. Event
  # values accept the `*` wildcard, so "audit/*" matches "audit/<connector>/<batch>.log.gz";
  # several values of one attribute match any of them.
  condition = jsonencode({
    eventType = ["com.oraclecloud.objectstorage.createobject"]
    data = {
      resourceName      = [for p in local.shipped_prefix_list : "${p}*"]
      additionalDetails = { bucketName = [oci_objectstorage_bucket.audit.name] }
    }
  })

  # `actions { actions {} }` works on provider 7.x and 8.x (8.22+ warns it is deprecated).
  actions {
    dynamic "actions" {
      for_each = oci_functions_function.shipper
      content {
        action_type = "FAAS"
        is_enabled  = true
        function_id = actions.value.id
        description = "Invoke ${actions.key}"
      }
    }
  }

  depends_on = [oci_identity_policy.events]
}
