data "oci_objectstorage_namespace" "this" {
  compartment_id = var.tenancy_ocid
}

resource "oci_objectstorage_bucket" "audit" {
  #checkov:skip=CKV_OCI_8:Versioning would keep every expired connector batch as a previous version, defeating the retention rules; objects are written once and never edited.
  #checkov:skip=CKV_OCI_9:A customer-managed key is optional (var.bucket_kms_key_id); the default is Oracle-managed encryption, which is always on.
  compartment_id = var.compartment_ocid
  namespace      = local.namespace
  name           = local.bucket_name
  access_type    = "NoPublicAccess"
  storage_tier   = "Standard"
  versioning     = "Disabled"
  kms_key_id     = var.bucket_kms_key_id
  # Emits com.oraclecloud.objectstorage.createobject, which drives the Events rule.
  object_events_enabled = true
  freeform_tags         = var.freeform_tags
}

resource "oci_objectstorage_object_lifecycle_policy" "audit" {
  namespace = local.namespace
  bucket    = oci_objectstorage_bucket.audit.name

  # Connector output only: the functions write dead letters and done-markers into the same
  # bucket under other prefixes, which this rule must not touch.
  rules {
    name        = "delete-connector-output"
    action      = "DELETE"
    target      = "objects"
    time_amount = var.processed_retention_days
    time_unit   = "DAYS"
    is_enabled  = true
    object_name_filter {
      inclusion_prefixes = [local.connector_prefix_path]
    }
  }

  # Uploaded Oracle audit files (fmw/, dbaudit/; issue 13): shipped like connector output, and
  # kept as long. A longer time would outlive their done-markers (ledger_retention_days), and
  # the hourly sweep would then ship them again.
  dynamic "rules" {
    for_each = local.upload_prefixes
    content {
      name        = "delete-${rules.key}-uploads"
      action      = "DELETE"
      target      = "objects"
      time_amount = var.processed_retention_days
      time_unit   = "DAYS"
      is_enabled  = true
      object_name_filter {
        inclusion_prefixes = [rules.value]
      }
    }
  }

  # Done-markers outlive the objects they mark (ledger_retention_days >= processed_retention_days).
  # The collectors' state lies under a ledger prefix but must outlive any pause of a collector:
  # excluded here (exclusions take precedence), expired by its own rule below.
  rules {
    name        = "delete-ledger-markers"
    action      = "DELETE"
    target      = "objects"
    time_amount = var.ledger_retention_days
    time_unit   = "DAYS"
    is_enabled  = true
    object_name_filter {
      inclusion_prefixes = distinct([var.logzio_ledger_prefix, var.logging_ledger_prefix])
      exclusion_patterns = length(local.enabled_collector_state_prefixes) > 0 ? [for p in local.enabled_collector_state_prefixes : "${p}*"] : null
    }
  }

  # Collector state (checkpoints, backfill progress) of every collector that is on, rewritten
  # on every run: only the state of a collector stopped for audit_collector_state_retention_days
  # goes. null = kept.
  dynamic "rules" {
    for_each = length(local.enabled_collector_state_prefixes) > 0 && var.audit_collector_state_retention_days != null ? [var.audit_collector_state_retention_days] : []
    content {
      name        = "delete-collector-state"
      action      = "DELETE"
      target      = "objects"
      time_amount = rules.value
      time_unit   = "DAYS"
      is_enabled  = true
      object_name_filter {
        inclusion_prefixes = local.enabled_collector_state_prefixes
      }
    }
  }

  # Dead letters are kept longer than connector output (validated), or forever when null.
  dynamic "rules" {
    for_each = var.dead_letter_retention_days == null ? [] : [var.dead_letter_retention_days]
    content {
      name        = "delete-dead-letters"
      action      = "DELETE"
      target      = "objects"
      time_amount = rules.value
      time_unit   = "DAYS"
      is_enabled  = true
      object_name_filter {
        inclusion_prefixes = [var.dead_letter_prefix]
      }
    }
  }

  rules {
    name        = "abort-stale-multipart-uploads"
    action      = "ABORT"
    target      = "multipart-uploads"
    time_amount = 1
    time_unit   = "DAYS"
    is_enabled  = true
  }

  # Object Storage rejects a lifecycle policy its service principal may not carry out.
  depends_on = [oci_identity_policy.objectstorage_lifecycle]
}
