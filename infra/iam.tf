# Dynamic groups and policies. Every statement names one compartment by OCID, never the
# tenancy, and every object grant is limited to the pipeline's bucket; the exceptions are the
# optional collectors: the audit collector reads audit events, compartments and region
# subscriptions of the whole tenancy, the Data Safe collector Data Safe audit events and region
# subscriptions (below). IAM is written in the home region (oci.home).

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
  # Statements every function of the pipeline gets on the bucket; `%s` is its dynamic group.
  bucket_statement_formats = [
    # GetObject/HeadObject/ListObjects on the connector's batches, the ledger and dead
    # letters; `read objects` = OBJECT_INSPECT + OBJECT_READ, in this bucket only.
    "Allow dynamic-group %s to read objects in compartment id ${var.compartment_ocid} where target.bucket.name = '${local.bucket_name}'",
    # PutObject of dead letters and done-markers into this bucket. Create/overwrite only:
    # no delete (the lifecycle rules expire objects) and no other bucket.
    "Allow dynamic-group %s to manage objects in compartment id ${var.compartment_ocid} where all {target.bucket.name = '${local.bucket_name}', any {request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE'}}",
  ]

  # What shipping to each sink needs, for its shipper and for the collector alike. (The secret
  # statement is left out while no secret exists: then no function ships to Logz.io.)
  sink_statement_formats = {
    "logzio" = local.logzio_secret_ocid == null ? [] : [
      # The Logz.io sink fetches its listener token at run time: this one secret only.
      "Allow dynamic-group %s to read secret-bundles in compartment id ${local.secret_compartment} where target.secret.id = '${local.logzio_secret_ocid}'",
    ]
    "oci-logging" = [
      # PutLogs into the re-ingestion custom log. log-content is granted per compartment,
      # so the scope is the log's compartment (keep other logs out of it if that matters).
      "Allow dynamic-group %s to use log-content in compartment id ${local.log_compartment}",
    ]
  }

  # What a function needs to fan work out over detached invocations of itself (a collector's
  # backfill, a shipper's sweep); `%[1]s` is its dynamic group, `%[2]s` its own OCID.
  self_invoke_statement_formats = [
    # GetFunction on itself only: the fan-out learns its own invoke endpoint.
    "Allow dynamic-group %[1]s to read fn-function in compartment id ${var.compartment_ocid} where target.function.id = '%[2]s'",
    # InvokeFunction (detached) on itself only: one invocation per group of chunks or objects.
    "Allow dynamic-group %[1]s to use fn-invocation in compartment id ${var.compartment_ocid} where target.function.id = '%[2]s'",
  ]

  # Custom metrics (metrics_enabled), for every function of the pipeline; `%s` is its dynamic group.
  metrics_statement_formats = var.metrics_enabled ? [
    # PostMetricData (METRIC_WRITE) into the metrics compartment, for the pipeline's own
    # namespace only: no reading of metrics, no other namespace.
    "Allow dynamic-group %s to use metrics in compartment id ${local.metrics_compartment} where target.metrics.namespace = '${var.metrics_namespace}'",
  ] : []

  # A scheduled job (schedules.tf); `%[1]s` is the schedule's OCID, `%[2]s` its function's.
  schedule_statement_formats = [
    # The job's own schedule principal, and no other schedule, may look up its function
    # (Resource Scheduler invokes a function by its OCID) ...
    "Allow any-user to read fn-function in compartment id ${var.compartment_ocid} where all {request.principal.type = 'resourceschedule', request.principal.id = '%[1]s', target.function.id = '%[2]s'}",
    # ... and invoke it, and no other function.
    "Allow any-user to use fn-invocation in compartment id ${var.compartment_ocid} where all {request.principal.type = 'resourceschedule', request.principal.id = '%[1]s', target.function.id = '%[2]s'}",
  ]

  shipper_sinks = { "logzio-shipper" = "logzio", "oci-logging-shipper" = "oci-logging" }

  function_statements = flatten([
    for name, dg in oci_identity_dynamic_group.shipper : concat(
      [for f in concat(local.bucket_statement_formats, local.sink_statement_formats[local.shipper_sinks[name]], local.metrics_statement_formats) : format(f, dg.name)],
      # GetFunction and detached InvokeFunction on itself only (a sweep's fan-out).
      [for f in local.self_invoke_statement_formats : format(f, dg.name, oci_functions_function.shipper[name].id)],
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
  description    = "${var.name_prefix}: shipper functions read/write their bucket, read the token, write the custom log, post their metrics, invoke themselves"
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

# ---------------------------------------------------------------------------------------
# Audit collector (audit_collector_enabled; collector.tf)
# ---------------------------------------------------------------------------------------

# Its own dynamic group, matching only the collector function's OCID.
resource "oci_identity_dynamic_group" "collector" {
  count    = var.audit_collector_enabled ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-audit-collector"
  description    = "The audit-collector function of ${var.name_prefix}"
  matching_rule  = "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.collector[0].id}'}"
  freeform_tags  = var.freeform_tags
}

locals {
  collector_dg          = one(oci_identity_dynamic_group.collector[*].name)
  collector_function_id = one(oci_functions_function.collector[*].id)

  collector_statements = var.audit_collector_enabled ? concat(
    # The bucket (state under <ledger>collectors/, dead letters) and its sink, exactly as the
    # shipper of that sink gets them.
    [for f in concat(local.bucket_statement_formats, local.sink_statement_formats[local.collector_sink]) : format(f, local.collector_dg)],
    [
      # ListEvents (AUDIT_EVENT_READ) in every compartment it collects; the Audit API takes
      # one compartment per call and has no subtree flag.
      "Allow dynamic-group ${local.collector_dg} to read audit-events in ${local.collector_audit_scope}",
      # ListCompartments (COMPARTMENT_INSPECT): the compartments to call ListEvents for.
      "Allow dynamic-group ${local.collector_dg} to inspect compartments in ${local.collector_audit_scope}",
      # ListRegionSubscriptions (TENANCY_INSPECT): the regions to collect; tenancy-wide by nature.
      "Allow dynamic-group ${local.collector_dg} to inspect tenancies in tenancy",
    ],
    # GetFunction and detached InvokeFunction on itself only (the backfill fan-out).
    [for f in local.self_invoke_statement_formats : format(f, local.collector_dg, local.collector_function_id)],
    # PostMetricData into the pipeline's namespace (metrics_enabled).
    [for f in local.metrics_statement_formats : format(f, local.collector_dg)],
  ) : []
}

# Attached to the tenancy whatever policy_compartment_ocid says: it grants `in tenancy`.
resource "oci_identity_policy" "collector" {
  count    = var.audit_collector_enabled ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-audit-collector"
  description    = "${var.name_prefix}: audit-collector reads audit events, compartments and regions, its bucket state and sink, and invokes itself"
  statements     = local.collector_statements
  freeform_tags  = var.freeform_tags
}

# Its catch-up schedule's policy: oci_identity_policy.schedule["audit-collector-catch-up"] (schedules.tf).

# ---------------------------------------------------------------------------------------
# Data Safe collector (datasafe_collector_enabled; datasafe_collector.tf)
# ---------------------------------------------------------------------------------------

# Its own dynamic group, matching only the Data Safe collector function's OCID.
resource "oci_identity_dynamic_group" "datasafe_collector" {
  count    = var.datasafe_collector_enabled ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-datasafe-collector"
  description    = "The datasafe-collector function of ${var.name_prefix}"
  matching_rule  = "ALL {resource.type = 'fnfunc', resource.id = '${oci_functions_function.datasafe_collector[0].id}'}"
  freeform_tags  = var.freeform_tags
}

locals {
  datasafe_collector_dg          = one(oci_identity_dynamic_group.datasafe_collector[*].name)
  datasafe_collector_function_id = one(oci_functions_function.datasafe_collector[*].id)

  datasafe_collector_statements = var.datasafe_collector_enabled ? concat(
    # The bucket (state under <ledger>collectors/datasafe/, dead letters) and its sink, exactly
    # as the shipper of that sink gets them.
    [for f in concat(local.bucket_statement_formats, local.sink_statement_formats[local.datasafe_collector_sink]) : format(f, local.datasafe_collector_dg)],
    [
      # ListAuditEvents of Data Safe (resource type data-safe-audit-events), one call per
      # region with compartmentIdInSubtree=true and accessLevel=ACCESSIBLE: the scope's whole
      # subtree, so no compartment listing is needed.
      "Allow dynamic-group ${local.datasafe_collector_dg} to read data-safe-audit-events in ${local.datasafe_collector_scope}",
      # ListRegionSubscriptions (TENANCY_INSPECT): the regions to collect; tenancy-wide by nature.
      "Allow dynamic-group ${local.datasafe_collector_dg} to inspect tenancies in tenancy",
    ],
    # GetFunction and detached InvokeFunction on itself only: a run of more than
    # COLLECT_INLINE_WINDOWS (300) windows fans out over detached invocations of itself.
    [for f in local.self_invoke_statement_formats : format(f, local.datasafe_collector_dg, local.datasafe_collector_function_id)],
    # PostMetricData into the pipeline's namespace (metrics_enabled).
    [for f in local.metrics_statement_formats : format(f, local.datasafe_collector_dg)],
  ) : []
}

# Attached to the tenancy whatever policy_compartment_ocid says: it grants `in tenancy`.
resource "oci_identity_policy" "datasafe_collector" {
  count    = var.datasafe_collector_enabled ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-datasafe-collector"
  description    = "${var.name_prefix}: datasafe-collector reads Data Safe audit events and regions, its bucket state and sink, and invokes itself"
  statements     = local.datasafe_collector_statements
  freeform_tags  = var.freeform_tags
}

# Its catch-up schedule's policy: oci_identity_policy.schedule["datasafe-collector-catch-up"] (schedules.tf).

# ---------------------------------------------------------------------------------------
# Uploads of Oracle audit files (upload_principals; issue 13)
# ---------------------------------------------------------------------------------------

# OCI hosts (WebLogic servers, database hosts) that upload with instance principals: one dynamic
# group per source, with the matching rule the operator gives (their instances, or their
# compartment).
resource "oci_identity_dynamic_group" "uploader" {
  for_each = { for source, p in var.upload_principals : source => p.dynamic_group_matching_rule if p.dynamic_group_matching_rule != null }
  provider = oci.home

  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-${each.key}-uploaders"
  description    = "Hosts that upload ${each.key} audit files to ${local.bucket_name}/${local.upload_prefixes[each.key]} (${var.name_prefix})"
  matching_rule  = each.value
  freeform_tags  = var.freeform_tags
}

locals {
  # Who uploads under which prefix: the dynamic group above and the named groups, by source.
  upload_subjects = flatten([
    for source, p in var.upload_principals : concat(
      p.dynamic_group_matching_rule != null ? [{ source = source, subject = "dynamic-group ${oci_identity_dynamic_group.uploader[source].name}" }] : [],
      [for g in p.groups : { source = source, subject = "group ${g}" }],
    )
  ])

  # `%[1]s` is the subject, `%[2]s` the upload prefix without its final '/' (an upload prefix
  # is one path segment, so the name pattern holds no '/').
  upload_statement_formats = [
    # PutObject, and the parts of a multipart upload, of NEW objects whose names start with the
    # source's prefix, in this bucket only. OBJECT_CREATE alone: no overwrite (a re-upload
    # would be shipped again), no read, no list, no delete.
    "Allow %[1]s to manage objects in compartment id ${var.compartment_ocid} where all {target.bucket.name = '${local.bucket_name}', target.object.name = /%[2]s*/, request.permission = 'OBJECT_CREATE'}",
  ]

  upload_statements = flatten([
    for u in local.upload_subjects : [
      for f in local.upload_statement_formats : format(f, u.subject, trimsuffix(local.upload_prefixes[u.source], "/"))
    ]
  ])
}

resource "oci_identity_policy" "uploads" {
  count    = length(local.upload_statements) > 0 ? 1 : 0
  provider = oci.home

  compartment_id = local.policy_compartment
  name           = "${var.name_prefix}-uploads"
  description    = "${var.name_prefix}: hosts may create new objects under ${join(", ", values(local.upload_prefixes))} in ${local.bucket_name}, nothing else"
  statements     = local.upload_statements
  freeform_tags  = var.freeform_tags
}
