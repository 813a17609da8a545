# Dynamic groups and policies. Every statement names one compartment by OCID, never the
# tenancy, and every object grant is limited to the pipeline's bucket. IAM is written in the
# home region (provider oci.home).

# One dynamic group per function, matching that function's OCID only, so each function gets
# only what it needs (the Logz.io shipper reads the secret; the Logging shipper writes logs).
resource "oci_identity_dynamic_group" "shipper" {
  for_each = oci_functions_function.shipper
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-${each.key}"
  description    = "The ${each.key} function of ${var.name_prefix}"
  matching_rule  = "ALL {resource.type = 'fnfunc', resource.id = '${each.value.id}'}"
  freeform_tags  = var.freeform_tags
}

locals {
  function_statements = flatten([
    for name, dg in oci_identity_dynamic_group.shipper : concat(
      [
        # GetObject/HeadObject/ListObjects on the connector's batches, the ledger and dead
        # letters; `read objects` = OBJECT_INSPECT + OBJECT_READ, in this bucket only.
        "Allow dynamic-group ${dg.name} to read objects in compartment id ${var.compartment_ocid} where target.bucket.name = '${local.bucket_name}'",
        # PutObject of dead letters and done-markers into this bucket. Create/overwrite only:
        # no delete (the lifecycle rules expire objects) and no other bucket.
        "Allow dynamic-group ${dg.name} to manage objects in compartment id ${var.compartment_ocid} where all {target.bucket.name = '${local.bucket_name}', any {request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE'}}",
      ],
      name == "logzio-shipper" ? [
        # The Logz.io shipper fetches its listener token at run time: this one secret only.
        "Allow dynamic-group ${dg.name} to read secret-bundles in compartment id ${local.secret_compartment} where target.secret.id = '${local.logzio_secret_ocid}'",
      ] : [],
      name == "oci-logging-shipper" ? [
        # PutLogs into the re-ingestion custom log. log-content is granted per compartment,
        # so the scope is the log's compartment (keep other logs out of it if that matters).
        "Allow dynamic-group ${dg.name} to use log-content in compartment id ${local.log_compartment}",
      ] : [],
    )
  ])

  connector_statements = [
    # Connector Hub writes the filtered _Audit batches into the bucket: Oracle's default
    # Object Storage target policy, limited to connectors in this compartment and this bucket.
    "Allow any-user to manage objects in compartment id ${var.compartment_ocid} where all {request.principal.type = 'serviceconnector', target.bucket.name = '${local.bucket_name}', request.principal.compartment.id = '${var.compartment_ocid}'}",
  ]

  events_statements = [
    # The Events rule's FAAS action looks the function up; without this it fails with a
    # 403 that is logged nowhere. fn-function + fn-invocation instead of functions-family,
    # which would also let the service update the application (use fn-app).
    "Allow service cloudEvents to use fn-function in compartment id ${var.compartment_ocid}",
    # ... and invokes it.
    "Allow service cloudEvents to use fn-invocation in compartment id ${var.compartment_ocid}",
  ]

  objectstorage_statements = [
    # Object Lifecycle Management runs as the regional Object Storage service; it must be
    # able to delete in this bucket or the lifecycle policy is rejected.
    "Allow service objectstorage-${var.region} to manage object-family in compartment id ${var.compartment_ocid} where target.bucket.name = '${local.bucket_name}'",
  ]
}

resource "oci_identity_policy" "functions" {
  provider = oci.home

  compartment_id = local.policy_compartment
  name           = "${var.name_prefix}-functions"
  description    = "${var.name_prefix}: shipper functions read/write their bucket, read the token, write the custom log"
  statements     = local.function_statements
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_policy" "connector" {
  provider = oci.home

  compartment_id = local.policy_compartment
  name           = "${var.name_prefix}-connector"
  description    = "${var.name_prefix}: Service Connector writes _Audit batches to ${local.bucket_name}"
  statements     = local.connector_statements
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_policy" "events" {
  provider = oci.home

  compartment_id = local.policy_compartment
  name           = "${var.name_prefix}-events"
  description    = "${var.name_prefix}: Events may invoke the shipper functions"
  statements     = local.events_statements
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_policy" "objectstorage_lifecycle" {
  provider = oci.home

  compartment_id = local.policy_compartment
  name           = "${var.name_prefix}-objectstorage-lifecycle"
  description    = "${var.name_prefix}: lifecycle rules may delete in ${local.bucket_name}"
  statements     = local.objectstorage_statements
  freeform_tags  = var.freeform_tags
}
