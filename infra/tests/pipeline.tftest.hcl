# Plan/apply against mocked OCI (mock_provider): nothing is created, no credentials needed.
# The provider schema still comes from the provider binary, so names and types are checked.

mock_provider "oci" {
  mock_data "oci_objectstorage_namespace" {
    defaults = {
      namespace = "testns"
    }
  }
  mock_data "oci_core_services" {
    defaults = {
      services = [{
        id          = "ocid1.service.oc1.eu-frankfurt-1.aaaaservices"
        name        = "All FRA Services In Oracle Services Network"
        cidr_block  = "all-fra-services-in-oracle-services-network"
        description = "All FRA Services In Oracle Services Network"
      }]
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

run "defaults" {
  command = apply

  # --- bucket ---
  assert {
    condition     = oci_objectstorage_bucket.audit.object_events_enabled == true
    error_message = "object events must be on, or the Events rule never fires"
  }
  assert {
    condition     = oci_objectstorage_bucket.audit.access_type == "NoPublicAccess" && oci_objectstorage_bucket.audit.name == "audit-ship-audit"
    error_message = "bucket must be private and named <prefix>-audit"
  }

  # --- lifecycle: connector output only, after 3 days; dead letters kept longer ---
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.action == "DELETE" && r.target == "objects" && r.time_amount == "3" && r.time_unit == "DAYS" && r.is_enabled && r.object_name_filter[0].inclusion_prefixes == toset(["audit/"])
      if r.name == "delete-connector-output"
    ] == [true]
    error_message = "connector output must be deleted after 3 days, under audit/ only"
  }
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.action == "DELETE" && r.time_amount == "30" && r.object_name_filter[0].inclusion_prefixes == toset(["dead-letter/"])
      if r.name == "delete-dead-letters"
    ] == [true]
    error_message = "dead letters must be kept 30 days by default"
  }
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.action == "DELETE" && r.time_amount == "7" && r.object_name_filter[0].inclusion_prefixes == toset(["shipped/logzio/", "shipped/oci-logging/"])
      if r.name == "delete-ledger-markers"
    ] == [true]
    error_message = "ledger markers must expire after 7 days"
  }
  assert {
    condition = alltrue([
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.target == "multipart-uploads" ? r.action == "ABORT" : alltrue([
        for p in r.object_name_filter[0].inclusion_prefixes :
        p != "" && (r.name == "delete-dead-letters" || !startswith("dead-letter/", p))
      ])
    ])
    error_message = "object rules must be prefix-filtered, and only the dead-letter rule may reach dead-letter/"
  }
  assert {
    condition     = length(oci_objectstorage_object_lifecycle_policy.audit.rules) == 6
    error_message = "six rules: connector output, fmw/ and dbaudit/ uploads, ledger, dead letters, stale multipart uploads"
  }

  # --- connector ---
  assert {
    condition     = oci_sch_service_connector.audit.source[0].kind == "logging" && oci_sch_service_connector.audit.source[0].log_sources[0].log_group_id == "_Audit_Include_Subcompartment"
    error_message = "the connector must read _Audit_Include_Subcompartment"
  }
  assert {
    condition     = oci_sch_service_connector.audit.source[0].log_sources[0].compartment_id == var.tenancy_ocid
    error_message = "by default the audit source is the whole tenancy"
  }
  assert {
    condition     = length(oci_sch_service_connector.audit.tasks) == 1 && oci_sch_service_connector.audit.tasks[0].kind == "logRule"
    error_message = "exactly one logRule task"
  }
  assert {
    condition     = oci_sch_service_connector.audit.tasks[0].condition == "(data.request.action='POST' or data.request.action='PUT' or data.request.action='DELETE')"
    error_message = "the filter must keep POST/PUT/DELETE only"
  }
  assert {
    condition = [
      oci_sch_service_connector.audit.target[0].kind,
      oci_sch_service_connector.audit.target[0].bucket,
      oci_sch_service_connector.audit.target[0].namespace,
      oci_sch_service_connector.audit.target[0].object_name_prefix,
      oci_sch_service_connector.audit.target[0].batch_rollover_size_in_mbs,
      oci_sch_service_connector.audit.target[0].batch_rollover_time_in_ms,
    ] == ["objectStorage", "audit-ship-audit", "testns", "audit", 100, 420000]
    error_message = "connector target must be the bucket, prefix audit, 100 MB / 420000 ms"
  }

  # --- events rule ---
  assert {
    condition = jsondecode(oci_events_rule.object_created.condition) == {
      eventType = ["com.oraclecloud.objectstorage.createobject"]
      data = {
        resourceName      = ["audit/*", "dbaudit/*", "fmw/*"]
        additionalDetails = { bucketName = ["audit-ship-audit"] }
      }
    }
    error_message = "the rule must match createobject in this bucket under audit/ and the upload prefixes only"
  }
  assert {
    condition     = oci_events_rule.object_created.is_enabled && alltrue([for a in oci_events_rule.object_created.actions[0].actions : a.action_type == "FAAS" && a.is_enabled])
    error_message = "rule and actions must be enabled FAAS actions"
  }
  assert {
    condition     = toset([for a in oci_events_rule.object_created.actions[0].actions : a.function_id]) == toset([oci_functions_function.shipper["logzio-shipper"].id, oci_functions_function.shipper["oci-logging-shipper"].id])
    error_message = "the rule must invoke both functions"
  }

  # --- functions ---
  assert {
    condition     = oci_functions_application.this.subnet_ids == tolist([var.subnet_ocid])
    error_message = "the application must use the given subnet"
  }
  assert {
    condition = alltrue([
      for f in oci_functions_function.shipper : f.memory_in_mbs == "256" && f.timeout_in_seconds == 300 && f.application_id == oci_functions_application.this.id
    ])
    error_message = "functions must get 256 MB and 300 s"
  }
  assert {
    condition     = oci_functions_function.shipper["logzio-shipper"].image == var.logzio_image && oci_functions_function.shipper["oci-logging-shipper"].image == var.logging_image
    error_message = "images must come from the variables"
  }
  assert {
    condition = oci_functions_function.shipper["logzio-shipper"].config == tomap({
      LOGZIO_URL               = "https://listener.logz.io:8071"
      LOGZIO_TOKEN_SECRET_OCID = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret"
      LOGZIO_TYPE              = "oci-audit"
      DEAD_LETTER_PREFIX       = "dead-letter/"
      LEDGER_PREFIX            = "shipped/logzio/"
      METRICS_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaapipeline"
      METRICS_NAMESPACE        = "auditship"
    })
    error_message = "logzio-shipper config is wrong"
  }
  assert {
    condition = oci_functions_function.shipper["oci-logging-shipper"].config == tomap({
      OCI_LOG_ID               = oci_logging_log.reingest[0].id
      DEAD_LETTER_PREFIX       = "dead-letter/"
      LEDGER_PREFIX            = "shipped/oci-logging/"
      METRICS_COMPARTMENT_OCID = "ocid1.compartment.oc1..aaaapipeline"
      METRICS_NAMESPACE        = "auditship"
    })
    error_message = "oci-logging-shipper config is wrong"
  }

  # --- logging ---
  assert {
    condition     = oci_logging_log.reingest[0].log_type == "CUSTOM" && oci_logging_log.reingest[0].log_group_id == oci_logging_log_group.this.id
    error_message = "custom log for re-ingestion"
  }
  assert {
    condition = [
      oci_logging_log.invoke.log_type,
      oci_logging_log.invoke.configuration[0].source[0].service,
      oci_logging_log.invoke.configuration[0].source[0].category,
      oci_logging_log.invoke.configuration[0].source[0].resource,
    ] == ["SERVICE", "functions", "invoke", oci_functions_application.this.id]
    error_message = "invocation log of the application"
  }

  # --- vault: referenced, not created ---
  assert {
    condition     = length(oci_vault_secret.logzio_token) == 0
    error_message = "the secret must not be created unless asked"
  }

  # --- IAM: every statement, with its scope ---
  assert {
    condition     = { for k, dg in oci_identity_dynamic_group.shipper : k => dg.matching_rule } == { for k, f in oci_functions_function.shipper : k => "ALL {resource.type = 'fnfunc', resource.id = '${f.id}'}" }
    error_message = "each dynamic group must match exactly one function"
  }
  assert {
    condition     = oci_identity_dynamic_group.shipper["logzio-shipper"].compartment_id == var.tenancy_ocid
    error_message = "dynamic groups live in the tenancy"
  }
  assert {
    condition = toset(oci_identity_policy.functions.statements) == toset([
      "Allow dynamic-group audit-ship-logzio-shipper to read objects in compartment id ocid1.compartment.oc1..aaaapipeline where target.bucket.name = 'audit-ship-audit'",
      "Allow dynamic-group audit-ship-logzio-shipper to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', any {request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE'}}",
      "Allow dynamic-group audit-ship-logzio-shipper to read secret-bundles in compartment id ocid1.compartment.oc1..aaaapipeline where target.secret.id = 'ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaasecret'",
      "Allow dynamic-group audit-ship-logzio-shipper to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'",
      "Allow dynamic-group audit-ship-logzio-shipper to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.shipper["logzio-shipper"].id}'",
      "Allow dynamic-group audit-ship-logzio-shipper to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.shipper["logzio-shipper"].id}'",
      "Allow dynamic-group audit-ship-oci-logging-shipper to read objects in compartment id ocid1.compartment.oc1..aaaapipeline where target.bucket.name = 'audit-ship-audit'",
      "Allow dynamic-group audit-ship-oci-logging-shipper to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {target.bucket.name = 'audit-ship-audit', any {request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE'}}",
      "Allow dynamic-group audit-ship-oci-logging-shipper to use log-content in compartment id ocid1.compartment.oc1..aaaapipeline",
      "Allow dynamic-group audit-ship-oci-logging-shipper to use metrics in compartment id ocid1.compartment.oc1..aaaapipeline where target.metrics.namespace = 'auditship'",
      "Allow dynamic-group audit-ship-oci-logging-shipper to read fn-function in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.shipper["oci-logging-shipper"].id}'",
      "Allow dynamic-group audit-ship-oci-logging-shipper to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline where target.function.id = '${oci_functions_function.shipper["oci-logging-shipper"].id}'",
    ])
    error_message = "function policy statements changed"
  }
  assert {
    condition = oci_identity_policy.connector.statements == tolist([
      "Allow any-user to manage objects in compartment id ocid1.compartment.oc1..aaaapipeline where all {request.principal.type = 'serviceconnector', target.bucket.name = 'audit-ship-audit', request.principal.compartment.id = 'ocid1.compartment.oc1..aaaapipeline'}",
    ])
    error_message = "connector policy statement changed"
  }
  assert {
    condition = oci_identity_policy.events.statements == tolist([
      "Allow service cloudEvents to use fn-function in compartment id ocid1.compartment.oc1..aaaapipeline",
      "Allow service cloudEvents to use fn-invocation in compartment id ocid1.compartment.oc1..aaaapipeline",
    ])
    error_message = "events policy statements changed"
  }
  assert {
    condition = oci_identity_policy.objectstorage_lifecycle.statements == tolist([
      "Allow service objectstorage-eu-frankfurt-1 to manage object-family in compartment id ocid1.compartment.oc1..aaaapipeline where target.bucket.name = 'audit-ship-audit'",
    ])
    error_message = "object storage lifecycle policy statement changed"
  }
  assert {
    condition = alltrue([
      for s in concat(oci_identity_policy.functions.statements, oci_identity_policy.connector.statements, oci_identity_policy.events.statements, oci_identity_policy.objectstorage_lifecycle.statements) :
      strcontains(s, " in compartment id ") && !strcontains(lower(s), " in tenancy") && !strcontains(s, "all-resources") && (!strcontains(s, " objects ") && !strcontains(s, "object-family") || strcontains(s, "target.bucket.name = 'audit-ship-audit'"))
    ])
    error_message = "a statement is broader than one compartment, or an object grant is not limited to the bucket"
  }
  assert {
    condition     = alltrue([for p in [oci_identity_policy.functions, oci_identity_policy.connector, oci_identity_policy.events, oci_identity_policy.objectstorage_lifecycle] : p.compartment_id == var.tenancy_ocid])
    error_message = "policies are attached to the tenancy by default"
  }
}

run "logzio_only" {
  command = apply

  variables {
    enable_logging_function = false
    logging_image           = null
  }

  assert {
    condition     = keys(oci_functions_function.shipper) == ["logzio-shipper"] && length(oci_logging_log.reingest) == 0
    error_message = "only the Logz.io function, and no custom log"
  }
  assert {
    condition     = [for a in oci_events_rule.object_created.actions[0].actions : a.function_id] == [oci_functions_function.shipper["logzio-shipper"].id]
    error_message = "the rule must invoke only the Logz.io function"
  }
  assert {
    condition     = length([for s in oci_identity_policy.functions.statements : s if strcontains(s, "log-content")]) == 0 && length(oci_identity_policy.functions.statements) == 6
    error_message = "no log-content grant without the Logging function"
  }
}

run "logging_only_custom_filter" {
  command = apply

  variables {
    enable_logzio_function        = false
    logzio_image                  = null
    logzio_token_secret_ocid      = null
    audit_actions                 = ["POST", "PATCH"]
    include_subcompartments       = false
    audit_source_compartment_ocid = "ocid1.compartment.oc1..aaaasource"
    connector_object_prefix       = "raw-audit"
    processed_retention_days      = 5
    log_compartment_ocid          = "ocid1.compartment.oc1..aaaalogs"
  }

  assert {
    condition     = keys(oci_functions_function.shipper) == ["oci-logging-shipper"]
    error_message = "only the Logging function"
  }
  assert {
    condition     = oci_sch_service_connector.audit.tasks[0].condition == "(data.request.action='POST' or data.request.action='PATCH')"
    error_message = "the filter must follow audit_actions"
  }
  assert {
    condition     = oci_sch_service_connector.audit.source[0].log_sources[0].log_group_id == "_Audit" && oci_sch_service_connector.audit.source[0].log_sources[0].compartment_id == "ocid1.compartment.oc1..aaaasource"
    error_message = "_Audit of the chosen compartment only"
  }
  assert {
    condition     = jsondecode(oci_events_rule.object_created.condition).data.resourceName == ["raw-audit/*", "dbaudit/*", "fmw/*"] && oci_sch_service_connector.audit.target[0].object_name_prefix == "raw-audit"
    error_message = "the rule and the connector must share the prefix"
  }
  assert {
    condition = [
      for r in oci_objectstorage_object_lifecycle_policy.audit.rules :
      r.time_amount == "5" && r.object_name_filter[0].inclusion_prefixes == toset(["raw-audit/"])
      if r.name == "delete-connector-output"
    ] == [true]
    error_message = "lifecycle must follow the prefix and the day count"
  }
  assert {
    condition     = length([for s in oci_identity_policy.functions.statements : s if strcontains(s, "secret-bundles")]) == 0
    error_message = "no secret grant without the Logz.io function"
  }
  assert {
    condition     = contains(oci_identity_policy.functions.statements, "Allow dynamic-group audit-ship-oci-logging-shipper to use log-content in compartment id ocid1.compartment.oc1..aaaalogs")
    error_message = "log-content must be scoped to the log's compartment"
  }
  assert {
    condition     = oci_logging_log_group.this.compartment_id == "ocid1.compartment.oc1..aaaalogs"
    error_message = "logs go to log_compartment_ocid"
  }
}

run "created_secret_and_network" {
  command = apply

  variables {
    create_network             = true
    subnet_ocid                = null
    create_logzio_secret       = true
    logzio_token_secret_ocid   = null
    logzio_token               = "abcdefghijklmnopqrstuvwxyz012345"
    vault_ocid                 = "ocid1.vault.oc1.eu-frankfurt-1.aaaavault"
    vault_key_ocid             = "ocid1.key.oc1.eu-frankfurt-1.aaaakey"
    dead_letter_retention_days = null
  }

  assert {
    condition     = oci_vault_secret.logzio_token[0].secret_content[0].content == base64encode("abcdefghijklmnopqrstuvwxyz012345") && oci_vault_secret.logzio_token[0].secret_content[0].content_type == "BASE64"
    error_message = "the secret must hold the base64 token"
  }
  assert {
    condition     = oci_functions_function.shipper["logzio-shipper"].config["LOGZIO_TOKEN_SECRET_OCID"] == oci_vault_secret.logzio_token[0].id
    error_message = "the function must be wired to the created secret"
  }
  assert {
    condition     = contains(oci_identity_policy.functions.statements, "Allow dynamic-group audit-ship-logzio-shipper to read secret-bundles in compartment id ocid1.compartment.oc1..aaaapipeline where target.secret.id = '${oci_vault_secret.logzio_token[0].id}'")
    error_message = "the read grant must name the created secret"
  }
  assert {
    condition     = oci_functions_application.this.subnet_ids == tolist([oci_core_subnet.functions[0].id]) && oci_core_subnet.functions[0].prohibit_public_ip_on_vnic
    error_message = "the application must use the created private subnet"
  }
  assert {
    condition = toset([for r in oci_core_route_table.private[0].route_rules : [r.destination_type, r.network_entity_id]]) == toset([
      ["SERVICE_CIDR_BLOCK", oci_core_service_gateway.this[0].id],
      ["CIDR_BLOCK", oci_core_nat_gateway.this[0].id],
    ])
    error_message = "routes: Oracle services via the service gateway, the rest via NAT"
  }
  assert {
    condition     = length(oci_core_security_list.functions[0].ingress_security_rules) == 0 && length(oci_core_security_list.functions[0].egress_security_rules) == 3
    error_message = "egress only: services 443, internet 443 and 8071"
  }
  assert {
    condition     = length([for r in oci_objectstorage_object_lifecycle_policy.audit.rules : r if r.name == "delete-dead-letters"]) == 0
    error_message = "dead letters are kept forever when dead_letter_retention_days is null"
  }
}
