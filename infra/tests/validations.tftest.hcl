# Every variable validation must reject bad input (plan stops before any provider call).

mock_provider "oci" {
  mock_data "oci_core_services" {
    defaults = {
      services = [{ id = "ocid1.service.oc1.eu-frankfurt-1.aaaa", name = "All FRA Services In Oracle Services Network", cidr_block = "all-fra-services-in-oracle-services-network", description = "" }]
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

run "valid_inputs_plan" {
  command = plan
}

run "rejects_bad_tenancy" {
  command = plan
  variables {
    tenancy_ocid = "ocid1.compartment.oc1..aaaa"
  }
  expect_failures = [var.tenancy_ocid]
}

run "rejects_bad_region" {
  command = plan
  variables {
    region = "Frankfurt"
  }
  expect_failures = [var.region]
}

run "rejects_zero_retention" {
  command = plan
  variables {
    processed_retention_days = 0
  }
  expect_failures = [var.processed_retention_days]
}

run "rejects_dead_letters_shorter_than_output" {
  command = plan
  variables {
    dead_letter_retention_days = 2
  }
  expect_failures = [var.dead_letter_retention_days]
}

run "rejects_ledger_shorter_than_output" {
  command = plan
  variables {
    processed_retention_days = 10
    ledger_retention_days    = 5
  }
  expect_failures = [var.ledger_retention_days]
}

run "rejects_dead_letters_under_connector_prefix" {
  command = plan
  variables {
    dead_letter_prefix = "audit/dead-letter/"
  }
  expect_failures = [var.dead_letter_prefix]
}

run "rejects_shared_ledger" {
  command = plan
  variables {
    logzio_ledger_prefix  = "shipped/"
    logging_ledger_prefix = "shipped/oci-logging/"
  }
  expect_failures = [var.logzio_ledger_prefix]
}

run "rejects_prefix_without_slash" {
  command = plan
  variables {
    logging_ledger_prefix = "shipped-logging"
  }
  expect_failures = [var.logging_ledger_prefix]
}

run "rejects_slash_in_connector_prefix" {
  command = plan
  variables {
    connector_object_prefix = "audit/"
  }
  expect_failures = [var.connector_object_prefix]
}

run "rejects_no_function" {
  command = plan
  variables {
    enable_logzio_function  = false
    enable_logging_function = false
  }
  expect_failures = [var.enable_logging_function]
}

run "rejects_missing_secret" {
  command = plan
  variables {
    logzio_token_secret_ocid = null
  }
  expect_failures = [var.logzio_token_secret_ocid]
}

run "rejects_secret_ocid_and_create" {
  command = plan
  variables {
    create_logzio_secret = true
    logzio_token         = "abcdefghijklmnopqrstuvwxyz012345"
    vault_ocid           = "ocid1.vault.oc1.eu-frankfurt-1.aaaavault"
    vault_key_ocid       = "ocid1.key.oc1.eu-frankfurt-1.aaaakey"
  }
  expect_failures = [var.logzio_token_secret_ocid]
}

run "rejects_create_secret_without_token" {
  command = plan
  variables {
    create_logzio_secret     = true
    logzio_token_secret_ocid = null
    vault_ocid               = "ocid1.vault.oc1.eu-frankfurt-1.aaaavault"
    vault_key_ocid           = "ocid1.key.oc1.eu-frankfurt-1.aaaakey"
  }
  expect_failures = [var.logzio_token]
}

run "rejects_non_ocir_image" {
  command = plan
  variables {
    logzio_image = "docker.io/library/python:3.11"
  }
  expect_failures = [var.logzio_image]
}

run "rejects_untagged_image" {
  command = plan
  variables {
    logging_image = "fra.ocir.io/testns/audit-ship/oci-logging-shipper"
  }
  expect_failures = [var.logging_image]
}

run "rejects_odd_memory" {
  command = plan
  variables {
    function_memory_mb = 300
  }
  expect_failures = [var.function_memory_mb]
}

run "rejects_long_timeout" {
  command = plan
  variables {
    function_timeout_seconds = 301
  }
  expect_failures = [var.function_timeout_seconds]
}

run "rejects_lower_case_action" {
  command = plan
  variables {
    audit_actions = ["post"]
  }
  expect_failures = [var.audit_actions]
}

run "rejects_empty_actions" {
  command = plan
  variables {
    audit_actions = []
  }
  expect_failures = [var.audit_actions]
}

run "rejects_rollover_out_of_range" {
  command = plan
  variables {
    rollover_time_ms = 1000
    rollover_size_mb = 500
  }
  expect_failures = [var.rollover_time_ms, var.rollover_size_mb]
}

run "rejects_no_subnet" {
  command = plan
  variables {
    subnet_ocid = null
  }
  expect_failures = [var.subnet_ocid]
}

run "rejects_subnet_and_network" {
  command = plan
  variables {
    create_network = true
  }
  expect_failures = [var.subnet_ocid]
}

run "rejects_odd_log_retention" {
  command = plan
  variables {
    log_retention_days = 45
  }
  expect_failures = [var.log_retention_days]
}

run "rejects_plain_http_listener" {
  command = plan
  variables {
    logzio_listener_url = "http://listener.logz.io:8070"
  }
  expect_failures = [var.logzio_listener_url]
}

run "rejects_type_with_space" {
  command = plan
  variables {
    logzio_type = "oci audit"
  }
  expect_failures = [var.logzio_type]
}
