# Oracle audit files uploaded into the bucket (issue 13): Fusion Middleware bus-stop files
# under fmw/ and database audit exports under dbaudit/ are shipped, swept and expired like the
# connector's output; hosts get create-only access to their prefix. Against mocked OCI.

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

run "upload_prefixes_by_default" {
  command = apply

  # --- the Events rule covers them, for the same functions ---
  assert {
    condition = jsondecode(oci_events_rule.object_created.condition) == {
      eventType = ["com.oraclecloud.objectstorage.createobject"]
      data = {
        resourceName      = ["audit/*", "dbaudit/*", "fmw/*"]
        additionalDetails = { bucketName = ["audit-ship-audit"] }
      }
    }
    error_message = "objects created under fmw/ and dbaudit/ fire the same rule as the connector's"
  }
  assert {
    condition     = toset([for a in oci_events_rule.object_created.actions[0].actions : a.function_id]) == toset([for f in oci_functions_function.shipper : f.id])
    error_message = "routed to the same shipper functions"
  }

  # --- lifecycle: kept as long as connector output, only under their prefix ---
  assert {
    condition = { for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r.name => [r.action, r.target, r.time_amount, r.time_unit, r.is_enabled, r.object_name_filter[0].inclusion_prefixes] if startswith(r.name, "delete-") && endswith(r.name, "-uploads") } == {
      "delete-fmw-uploads"     = ["DELETE", "objects", "3", "DAYS", true, toset(["fmw/"])]
      "delete-dbaudit-uploads" = ["DELETE", "objects", "3", "DAYS", true, toset(["dbaudit/"])]
    }
    error_message = "uploads are deleted after processed_retention_days (3), each rule under its own prefix"
  }
  assert {
    condition = alltrue([
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.target == "multipart-uploads" ? true : contains(["delete-fmw-uploads", "delete-dbaudit-uploads"], r.name) || alltrue([for p in r.object_name_filter[0].inclusion_prefixes : !contains(["fmw/", "dbaudit/"], p)])
    ])
    error_message = "no other rule reaches the upload prefixes"
  }

  # --- no principal is given access unless named ---
  assert {
    condition     = length(oci_identity_dynamic_group.uploader) == 0 && length(oci_identity_policy.uploads) == 0
    error_message = "no uploader dynamic group or policy unless upload_principals names one"
  }
  assert {
    condition     = output.shipped_prefixes == { connector = "audit/", fmw = "fmw/", dbaudit = "dbaudit/" }
    error_message = "shipped_prefixes output"
  }
}

run "upload_principals" {
  command = apply

  variables {
    upload_principals = {
      fmw     = { dynamic_group_matching_rule = "ANY {instance.compartment.id = 'ocid1.compartment.oc1..aaaaweblogic'}" }
      dbaudit = { groups = ["dba-audit-uploaders", "'Default'/'dbas'"] }
    }
  }

  assert {
    condition = (
      keys(oci_identity_dynamic_group.uploader) == ["fmw"] &&
      oci_identity_dynamic_group.uploader["fmw"].name == "audit-ship-fmw-uploaders" &&
      oci_identity_dynamic_group.uploader["fmw"].matching_rule == "ANY {instance.compartment.id = 'ocid1.compartment.oc1..aaaaweblogic'}" &&
      oci_identity_dynamic_group.uploader["fmw"].compartment_id == var.tenancy_ocid
    )
    error_message = "a dynamic group for the WebLogic hosts, with the given matching rule, in the tenancy"
  }
  assert {
    condition = oci_identity_policy.uploads[0].statements == tolist([
      "Allow group dba-audit-uploaders to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', target.object.name = /dbaudit*/, request.permission = 'OBJECT_CREATE'}",
      "Allow group 'Default'/'dbas' to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', target.object.name = /dbaudit*/, request.permission = 'OBJECT_CREATE'}",
      "Allow dynamic-group audit-ship-fmw-uploaders to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', target.object.name = /fmw*/, request.permission = 'OBJECT_CREATE'}",
    ])
    error_message = "each uploader may create new objects under its own prefix in this bucket, and nothing else"
  }
  assert {
    condition = alltrue([
      for s in oci_identity_policy.uploads[0].statements :
      !strcontains(s, "OBJECT_OVERWRITE") && !strcontains(s, "OBJECT_DELETE") && !strcontains(s, "OBJECT_READ") && !strcontains(s, "object-family")
    ])
    error_message = "no overwrite, delete or read for uploaders"
  }
  assert {
    condition     = oci_identity_policy.uploads[0].name == "audit-ship-uploads" && oci_identity_policy.uploads[0].compartment_id == var.tenancy_ocid
    error_message = "the uploads policy is attached like the others"
  }
}

run "upload_prefixes_off" {
  command = apply

  variables {
    fmw_upload_prefix     = null
    dbaudit_upload_prefix = null
  }

  assert {
    condition = (
      jsondecode(oci_events_rule.object_created.condition).data.resourceName == ["audit/*"] &&
      length([for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r if startswith(r.name, "delete-") && endswith(r.name, "-uploads")]) == 0 &&
      keys(oci_resource_scheduler_schedule.job) == ["logzio-shipper-sweep-connector", "oci-logging-shipper-sweep-connector"]
    )
    error_message = "without upload prefixes: the connector's prefix only, in the rule, the lifecycle and the sweeps"
  }
}

run "custom_upload_prefix" {
  command = apply

  variables {
    fmw_upload_prefix        = "weblogic/"
    processed_retention_days = 5
    upload_principals = {
      fmw = { groups = ["wls-hosts"] }
    }
  }

  assert {
    condition = (
      jsondecode(oci_events_rule.object_created.condition).data.resourceName == ["audit/*", "dbaudit/*", "weblogic/*"] &&
      [for r in oci_objectstorage_object_lifecycle_policy.audit.rules : [r.time_amount, r.object_name_filter[0].inclusion_prefixes] if r.name == "delete-fmw-uploads"] == [["5", toset(["weblogic/"])]] &&
      jsondecode(oci_resource_scheduler_schedule.job["logzio-shipper-sweep-fmw"].resources[0].parameters[0].value[0]).sweep == "oci://testns/audit-ship-audit/weblogic/" &&
      oci_identity_policy.uploads[0].statements == tolist(["Allow group wls-hosts to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', target.object.name = /weblogic*/, request.permission = 'OBJECT_CREATE'}"])
    )
    error_message = "the rule, the lifecycle, the sweep and the grant all follow fmw_upload_prefix"
  }
}

# --- validations ---

run "rejects_upload_prefix_inside_connector_prefix" {
  command = plan
  variables {
    fmw_upload_prefix = "audit/"
  }
  expect_failures = [var.fmw_upload_prefix]
}

run "rejects_upload_prefix_over_the_ledger" {
  command = plan
  variables {
    dbaudit_upload_prefix = "shipped/"
  }
  expect_failures = [var.dbaudit_upload_prefix]
}

run "rejects_upload_prefix_on_dead_letters" {
  command = plan
  variables {
    dbaudit_upload_prefix = "dead-letter/"
  }
  expect_failures = [var.dbaudit_upload_prefix]
}

run "rejects_one_prefix_for_both_sources" {
  command = plan
  variables {
    fmw_upload_prefix     = "oracle/"
    dbaudit_upload_prefix = "oracle/"
  }
  expect_failures = [var.fmw_upload_prefix]
}

run "rejects_nested_upload_prefix" {
  command = plan
  variables {
    fmw_upload_prefix = "uploads/fmw/"
  }
  expect_failures = [var.fmw_upload_prefix]
}

run "rejects_upload_prefix_without_slash" {
  command = plan
  variables {
    dbaudit_upload_prefix = "dbaudit"
  }
  expect_failures = [var.dbaudit_upload_prefix]
}

run "rejects_unknown_upload_source" {
  command = plan
  variables {
    upload_principals = { splunk = { groups = ["x"] } }
  }
  expect_failures = [var.upload_principals]
}

run "rejects_principals_for_a_prefix_that_is_off" {
  command = plan
  variables {
    fmw_upload_prefix = null
    upload_principals = { fmw = { groups = ["wls-hosts"] } }
  }
  expect_failures = [var.upload_principals]
}

run "rejects_bad_group_and_rule" {
  command = plan
  variables {
    upload_principals = { dbaudit = { groups = ["dba uploaders"], dynamic_group_matching_rule = "instance.compartment.id = 'x'" } }
  }
  expect_failures = [var.upload_principals]
}
