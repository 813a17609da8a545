# ---------------------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------------------

variable "tenancy_ocid" {
  description = "OCID of the tenancy (root compartment). Dynamic groups live here; it is also the default audit source."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.oc[0-9]+\\.\\.[a-z0-9]+$", var.tenancy_ocid))
    error_message = "tenancy_ocid must look like ocid1.tenancy.oc1..<id>."
  }
}

variable "compartment_ocid" {
  description = "Compartment for the bucket, connector, events rule, functions and (by default) the logs."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(compartment|tenancy)\\.oc[0-9]+\\.\\.[a-z0-9]+$", var.compartment_ocid))
    error_message = "compartment_ocid must be a compartment (or tenancy) OCID."
  }
}

variable "region" {
  description = "Region to deploy into, e.g. eu-frankfurt-1. Also names the Object Storage service principal for lifecycle."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2,}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an OCI region identifier such as us-ashburn-1."
  }
}

variable "home_region" {
  description = "The tenancy's home region, where IAM resources must be written. null = same as region."
  type        = string
  default     = null

  validation {
    condition     = var.home_region == null || can(regex("^[a-z]{2,}(-[a-z]+)+-[0-9]+$", var.home_region))
    error_message = "home_region must be an OCI region identifier such as us-ashburn-1, or null."
  }
}

variable "oci_config_profile" {
  description = "Profile in ~/.oci/config used by the provider. null = the provider's default."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix for every resource name (bucket, connector, functions app, dynamic groups, policies). Dynamic group and policy names must be unique in the tenancy."
  type        = string
  default     = "audit-ship"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,28}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-30 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "freeform_tags" {
  description = "Free-form tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Bucket and retention
# ---------------------------------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the bucket the connector writes to. null = \"<name_prefix>-audit\"."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[A-Za-z0-9_.-]{1,256}$", var.bucket_name))
    error_message = "bucket_name may contain only letters, digits, '_', '.' and '-' (1-256 characters)."
  }
}

variable "bucket_kms_key_id" {
  description = "Optional customer-managed Vault key for the bucket. null = Oracle-managed encryption."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_kms_key_id == null || can(regex("^ocid1\\.key\\.", var.bucket_kms_key_id))
    error_message = "bucket_kms_key_id must be a Vault key OCID (ocid1.key....) or null."
  }
}

variable "connector_object_prefix" {
  description = "Object name prefix of the connector's output (objects land under \"<prefix>/<connector ocid>/...\"). The lifecycle rule and the Events rule both match only this prefix."
  type        = string
  default     = "audit"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]*$", var.connector_object_prefix))
    error_message = "connector_object_prefix must be one path segment without '/' (letters, digits, '_', '.', '-')."
  }
}

variable "processed_retention_days" {
  description = "Days after which the connector's output objects are deleted by the lifecycle rule."
  type        = number
  default     = 3

  validation {
    condition     = var.processed_retention_days >= 1 && var.processed_retention_days <= 3650 && floor(var.processed_retention_days) == var.processed_retention_days
    error_message = "processed_retention_days must be a whole number between 1 and 3650."
  }
}

variable "dead_letter_prefix" {
  description = "Prefix under which the functions write dead letters (function config DEAD_LETTER_PREFIX). Must not overlap the connector's prefix or the ledger prefixes."
  type        = string
  default     = "dead-letter/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.dead_letter_prefix))
    error_message = "dead_letter_prefix must be a relative path ending in '/', e.g. dead-letter/."
  }
  validation {
    # The connector lifecycle rule and the Events rule match "<connector_object_prefix>/";
    # dead letters under it would be deleted early and would re-trigger the functions.
    condition = !startswith(var.dead_letter_prefix, "${var.connector_object_prefix}/") && !startswith("${var.connector_object_prefix}/", var.dead_letter_prefix) && alltrue([
      for p in [var.logzio_ledger_prefix, var.logging_ledger_prefix] :
      !startswith(p, var.dead_letter_prefix) && !startswith(var.dead_letter_prefix, p)
    ])
    error_message = "dead_letter_prefix must not overlap connector_object_prefix or the ledger prefixes."
  }
}

variable "dead_letter_retention_days" {
  description = "Days to keep dead letters. Must be longer than processed_retention_days. null = keep them until removed by hand."
  type        = number
  default     = 30

  validation {
    condition     = var.dead_letter_retention_days == null || try(var.dead_letter_retention_days > var.processed_retention_days && var.dead_letter_retention_days <= 3650 && floor(var.dead_letter_retention_days) == var.dead_letter_retention_days, false)
    error_message = "dead_letter_retention_days must be null or a whole number of days greater than processed_retention_days (at most 3650)."
  }
}

variable "logzio_ledger_prefix" {
  description = "Prefix for the Logz.io function's done-markers (function config LEDGER_PREFIX)."
  type        = string
  default     = "shipped/logzio/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.logzio_ledger_prefix)) && !startswith(var.logzio_ledger_prefix, "${var.connector_object_prefix}/")
    error_message = "logzio_ledger_prefix must be a relative path ending in '/' outside the connector's prefix."
  }
  validation {
    # Both functions process the same objects; a shared ledger would make one skip the other's work.
    condition     = !startswith(var.logzio_ledger_prefix, var.logging_ledger_prefix) && !startswith(var.logging_ledger_prefix, var.logzio_ledger_prefix)
    error_message = "logzio_ledger_prefix and logging_ledger_prefix must be different, non-nested prefixes."
  }
}

variable "logging_ledger_prefix" {
  description = "Prefix for the OCI Logging function's done-markers (function config LEDGER_PREFIX)."
  type        = string
  default     = "shipped/oci-logging/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.logging_ledger_prefix)) && !startswith(var.logging_ledger_prefix, "${var.connector_object_prefix}/")
    error_message = "logging_ledger_prefix must be a relative path ending in '/' outside the connector's prefix."
  }
}

variable "ledger_retention_days" {
  description = "Days to keep done-markers. At least processed_retention_days, so a re-delivered event for a still-present object is recognised as done."
  type        = number
  default     = 7

  validation {
    condition     = try(var.ledger_retention_days >= var.processed_retention_days && var.ledger_retention_days <= 3650 && floor(var.ledger_retention_days) == var.ledger_retention_days, false)
    error_message = "ledger_retention_days must be a whole number >= processed_retention_days (at most 3650)."
  }
}

# ---------------------------------------------------------------------------------------
# Service Connector
# ---------------------------------------------------------------------------------------

variable "audit_source_compartment_ocid" {
  description = "Compartment whose _Audit log is read. null = the tenancy (with include_subcompartments, the whole tenancy)."
  type        = string
  default     = null

  validation {
    condition     = var.audit_source_compartment_ocid == null || can(regex("^ocid1\\.(compartment|tenancy)\\.oc[0-9]+\\.\\.[a-z0-9]+$", var.audit_source_compartment_ocid))
    error_message = "audit_source_compartment_ocid must be a compartment or tenancy OCID, or null."
  }
}

variable "include_subcompartments" {
  description = "Read _Audit of the source compartment and all its children (_Audit_Include_Subcompartment) instead of that compartment alone (_Audit)."
  type        = bool
  default     = true
}

variable "audit_actions" {
  description = "HTTP methods (data.request.action) of the audit records to ship. Reads (GET/HEAD) are excluded by default."
  type        = list(string)
  default     = ["POST", "PUT", "DELETE"]

  validation {
    condition     = length(var.audit_actions) > 0 && alltrue([for a in var.audit_actions : contains(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], a)])
    error_message = "audit_actions must be a non-empty list of upper-case HTTP methods (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)."
  }
}

variable "rollover_size_mb" {
  description = "Connector batch rollover size in MB: an object is written when this much has accumulated."
  type        = number
  default     = 100

  validation {
    condition     = var.rollover_size_mb >= 1 && var.rollover_size_mb <= 100 && floor(var.rollover_size_mb) == var.rollover_size_mb
    error_message = "rollover_size_mb must be a whole number from 1 to 100."
  }
}

variable "rollover_time_ms" {
  description = "Connector batch rollover time in milliseconds: an object is written at least this often. 420000 (7 min) is the largest value seen in Oracle's own stacks."
  type        = number
  default     = 420000

  validation {
    condition     = var.rollover_time_ms >= 60000 && var.rollover_time_ms <= 420000 && floor(var.rollover_time_ms) == var.rollover_time_ms
    error_message = "rollover_time_ms must be a whole number from 60000 to 420000."
  }
}

# ---------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------

variable "enable_logzio_function" {
  description = "Deploy the logzio-shipper function and invoke it from the Events rule."
  type        = bool
  default     = true
}

variable "enable_logging_function" {
  description = "Deploy the oci-logging-shipper function (re-ingests into the custom log) and invoke it from the Events rule."
  type        = bool
  default     = true

  validation {
    condition     = var.enable_logging_function || var.enable_logzio_function
    error_message = "At least one of enable_logzio_function and enable_logging_function must be true."
  }
}

variable "logzio_image" {
  description = "OCIR image of logzio-shipper, pushed before apply, e.g. fra.ocir.io/<ns>/audit-ship/logzio-shipper:0.1.0 (or @sha256:<digest>)."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_logzio_function || can(regex(local.ocir_image_pattern, var.logzio_image))
    error_message = "logzio_image must be an OCIR image reference with a tag or digest when enable_logzio_function is true."
  }
}

variable "logging_image" {
  description = "OCIR image of oci-logging-shipper, pushed before apply."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_logging_function || can(regex(local.ocir_image_pattern, var.logging_image))
    error_message = "logging_image must be an OCIR image reference with a tag or digest when enable_logging_function is true."
  }
}

variable "function_memory_mb" {
  description = "Memory of each function in MB."
  type        = number
  default     = 256

  validation {
    condition     = contains([128, 256, 512, 1024, 2048, 3072], var.function_memory_mb)
    error_message = "function_memory_mb must be one of 128, 256, 512, 1024, 2048, 3072."
  }
}

variable "function_timeout_seconds" {
  description = "Timeout of each function in seconds (300 is the maximum for the synchronous invocations Events makes)."
  type        = number
  default     = 300

  validation {
    condition     = var.function_timeout_seconds >= 5 && var.function_timeout_seconds <= 300 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "function_timeout_seconds must be a whole number from 5 to 300."
  }
}

variable "application_shape" {
  description = "Functions application shape; must match the architecture of the images."
  type        = string
  default     = "GENERIC_X86"

  validation {
    condition     = contains(["GENERIC_X86", "GENERIC_ARM", "GENERIC_X86_ARM"], var.application_shape)
    error_message = "application_shape must be GENERIC_X86, GENERIC_ARM or GENERIC_X86_ARM."
  }
}

variable "logzio_listener_url" {
  description = "Logz.io bulk listener, https://<listener host>:8071 (function config LOGZIO_URL)."
  type        = string
  default     = "https://listener.logz.io:8071"

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+(:[0-9]{1,5})?/?$", var.logzio_listener_url))
    error_message = "logzio_listener_url must be an https URL of a listener host with an optional port, e.g. https://listener-eu.logz.io:8071."
  }
}

variable "logzio_type" {
  description = "Logz.io log type (function config LOGZIO_TYPE)."
  type        = string
  default     = "oci-audit"

  validation {
    condition     = can(regex(local.log_type_pattern, var.logzio_type))
    error_message = "logzio_type must be 1-100 characters without spaces (letters, digits, '_', '.', '-')."
  }
}

# ---------------------------------------------------------------------------------------
# Logz.io token (Vault secret)
# ---------------------------------------------------------------------------------------

variable "logzio_token_secret_ocid" {
  description = "OCID of an existing Vault secret holding the Logz.io shipping token. Preferred: the token then never enters Terraform state. Required when the Logz.io function is enabled and create_logzio_secret is false."
  type        = string
  default     = null

  validation {
    condition     = var.logzio_token_secret_ocid == null ? (!var.enable_logzio_function || var.create_logzio_secret) : (can(regex("^ocid1\\.vaultsecret\\.", var.logzio_token_secret_ocid)) && !var.create_logzio_secret)
    error_message = "Set logzio_token_secret_ocid (an ocid1.vaultsecret... OCID) when the Logz.io function is enabled, unless create_logzio_secret is true; do not set both."
  }
}

variable "logzio_secret_compartment_ocid" {
  description = "Compartment of the Logz.io token secret (used to scope the read policy, and to create the secret when asked). null = compartment_ocid."
  type        = string
  default     = null

  validation {
    condition     = var.logzio_secret_compartment_ocid == null || can(regex("^ocid1\\.(compartment|tenancy)\\.oc[0-9]+\\.\\.[a-z0-9]+$", var.logzio_secret_compartment_ocid))
    error_message = "logzio_secret_compartment_ocid must be a compartment OCID or null."
  }
}

variable "create_logzio_secret" {
  description = "Create the Vault secret from logzio_token. The token is then stored in Terraform state in plain text; protect the state accordingly."
  type        = bool
  default     = false
}

variable "logzio_token" {
  description = "Logz.io shipping token, only used when create_logzio_secret is true."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = !var.create_logzio_secret || can(regex("^[A-Za-z0-9]{16,64}$", var.logzio_token))
    error_message = "logzio_token (16-64 letters and digits) is required when create_logzio_secret is true."
  }
}

variable "vault_ocid" {
  description = "Existing Vault in which to create the secret (create_logzio_secret only)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_logzio_secret || can(regex("^ocid1\\.vault\\.", var.vault_ocid))
    error_message = "vault_ocid (ocid1.vault...) is required when create_logzio_secret is true."
  }
}

variable "vault_key_ocid" {
  description = "Master encryption key in that Vault for the secret (create_logzio_secret only)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_logzio_secret || can(regex("^ocid1\\.key\\.", var.vault_key_ocid))
    error_message = "vault_key_ocid (ocid1.key...) is required when create_logzio_secret is true."
  }
}

# ---------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------

variable "log_compartment_ocid" {
  description = "Compartment for the log group, the custom log and the invocation log. null = compartment_ocid. The Logging function's log-content grant is scoped to this compartment."
  type        = string
  default     = null

  validation {
    condition     = var.log_compartment_ocid == null || can(regex("^ocid1\\.(compartment|tenancy)\\.oc[0-9]+\\.\\.[a-z0-9]+$", var.log_compartment_ocid))
    error_message = "log_compartment_ocid must be a compartment OCID or null."
  }
}

variable "log_retention_days" {
  description = "Retention of the custom and invocation logs in days (OCI allows 30-day steps up to 180)."
  type        = number
  default     = 30

  validation {
    condition     = contains([30, 60, 90, 120, 150, 180], var.log_retention_days)
    error_message = "log_retention_days must be one of 30, 60, 90, 120, 150, 180."
  }
}

# ---------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------

variable "policy_compartment_ocid" {
  description = "Compartment the policies are attached to. null = the tenancy. It must be the same as, or an ancestor of, every compartment the statements name."
  type        = string
  default     = null

  validation {
    condition     = var.policy_compartment_ocid == null || can(regex("^ocid1\\.(compartment|tenancy)\\.oc[0-9]+\\.\\.[a-z0-9]+$", var.policy_compartment_ocid))
    error_message = "policy_compartment_ocid must be a compartment or tenancy OCID, or null."
  }
}

# ---------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------

variable "create_network" {
  description = "Create a VCN with a private subnet, NAT gateway (to Logz.io) and service gateway (OCIR, Object Storage, Vault, Logging). false = use subnet_ocid."
  type        = bool
  default     = false
}

variable "subnet_ocid" {
  description = "Existing private subnet for the Functions application; it needs egress to Logz.io (NAT) and to Oracle services (service gateway). Required unless create_network is true."
  type        = string
  default     = null

  validation {
    condition     = var.create_network ? var.subnet_ocid == null : can(regex("^ocid1\\.subnet\\.", var.subnet_ocid))
    error_message = "Set subnet_ocid (ocid1.subnet...) or create_network = true, not both."
  }
}

variable "network_security_group_ids" {
  description = "Optional NSGs for the Functions application."
  type        = list(string)
  default     = []
}

variable "vcn_cidr" {
  description = "CIDR of the VCN created when create_network is true."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vcn_cidr, 0))
    error_message = "vcn_cidr must be an IPv4 CIDR block."
  }
}

variable "subnet_cidr" {
  description = "CIDR of the private functions subnet created when create_network is true; must lie inside vcn_cidr."
  type        = string
  default     = "10.0.1.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be an IPv4 CIDR block."
  }
}

variable "egress_tcp_ports" {
  description = "TCP ports the created subnet may reach on the internet through the NAT gateway (HTTPS and the Logz.io listener)."
  type        = list(number)
  default     = [443, 8071]

  validation {
    condition     = length(var.egress_tcp_ports) > 0 && alltrue([for p in var.egress_tcp_ports : p >= 1 && p <= 65535 && floor(p) == p])
    error_message = "egress_tcp_ports must be a non-empty list of TCP port numbers."
  }
}

# ---------------------------------------------------------------------------------------
# Audit collector (Audit API catch-up and backfill)
# ---------------------------------------------------------------------------------------

variable "audit_collector_enabled" {
  description = "Deploy the audit-collector function (reads the Audit API in every subscribed region and compartment), its dynamic group, its policy and its schedule. Off by default: it needs its own image, and it adds tenancy-wide read of audit events."
  type        = bool
  default     = false
}

variable "audit_collector_image" {
  description = "OCIR image of audit-collector, pushed before apply (required when audit_collector_enabled is true)."
  type        = string
  default     = null

  validation {
    condition     = !var.audit_collector_enabled || can(regex(local.ocir_image_pattern, var.audit_collector_image))
    error_message = "audit_collector_image must be an OCIR image reference with a tag or digest when audit_collector_enabled is true."
  }
}

variable "audit_collector_memory_mb" {
  description = "Memory of the audit-collector function in MB (its timeout is always 300 s)."
  type        = number
  default     = 512

  validation {
    condition     = contains(local.function_memory_sizes, var.audit_collector_memory_mb)
    error_message = "audit_collector_memory_mb must be one of 128, 256, 512, 1024, 2048, 3072."
  }
}

variable "audit_collector_sink" {
  description = "Where the collector ships (function config SINK): \"logzio\" or \"oci-logging\", with the same settings as that sink's shipper function. null = logzio when enable_logzio_function is true, else oci-logging."
  type        = string
  default     = null

  validation {
    condition     = contains(local.collector_sinks, coalesce(var.audit_collector_sink, "logzio"))
    error_message = "audit_collector_sink must be \"logzio\", \"oci-logging\" or null."
  }
  validation {
    # The Logz.io shipper's own checks only demand the token secret when that shipper is on.
    condition     = !(var.audit_collector_enabled && var.audit_collector_sink == "logzio" && !var.enable_logzio_function && var.logzio_token_secret_ocid == null && !var.create_logzio_secret)
    error_message = "The collector ships to Logz.io: set logzio_token_secret_ocid (or create_logzio_secret = true)."
  }
}

variable "audit_collector_concurrency" {
  description = "Audit API requests the collector runs at once (function config COLLECT_CONCURRENCY)."
  type        = number
  default     = 16

  validation {
    condition     = var.audit_collector_concurrency >= 1 && var.audit_collector_concurrency <= 64 && floor(var.audit_collector_concurrency) == var.audit_collector_concurrency
    error_message = "audit_collector_concurrency must be a whole number from 1 to 64."
  }
}

variable "audit_collector_lag" {
  description = "How far behind now a catch-up run stops (COLLECT_LAG): the Audit API shows new events \"usually within 15 minutes\"; the overlap re-reads the tail."
  type        = string
  default     = "10m"

  validation {
    # As functions/auditship/config.py reads it: whole minutes, at most a day.
    condition     = can(regex(local.duration_pattern, var.audit_collector_lag)) && try(sum([for m in regexall(local.duration_part_pattern, var.audit_collector_lag) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]]) <= 1440, false)
    error_message = "audit_collector_lag must be whole minutes up to a day, written like 10m, 1h or 1h30m."
  }
}

variable "audit_collector_overlap" {
  description = "How much of the previous window a catch-up run reads again (COLLECT_OVERLAP), for events that appear late."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex(local.duration_pattern, var.audit_collector_overlap)) && try(sum([for m in regexall(local.duration_part_pattern, var.audit_collector_overlap) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]]) <= 1440, false)
    error_message = "audit_collector_overlap must be whole minutes up to a day, written like 10m or 1h."
  }
}

variable "audit_collector_window" {
  description = "Length of one window (chunk) of time the collector reads and checkpoints at a time (COLLECT_WINDOW), 1m to 14d."
  type        = string
  default     = "1d"

  validation {
    condition     = can(regex(local.duration_pattern, var.audit_collector_window)) && try(alltrue([for total in [sum([for m in regexall(local.duration_part_pattern, var.audit_collector_window) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]])] : total >= 1 && total <= 20160]), false)
    error_message = "audit_collector_window must be whole minutes from 1m to 14d, written like 1d or 6h."
  }
}

variable "audit_collector_regions" {
  description = "Regions the collector reads (COLLECT_REGIONS, comma-joined). [] = every region the tenancy subscribes to."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.audit_collector_regions : can(regex(local.region_pattern, r))])
    error_message = "audit_collector_regions must be OCI region identifiers such as eu-frankfurt-1."
  }
}

variable "audit_collector_compartment_ocid" {
  description = "Compartment (with its subtree) whose audit events the collector reads (COLLECT_COMPARTMENT_OCID). null = the whole tenancy. It also narrows the collector's audit-events and compartments grants to that compartment."
  type        = string
  default     = null

  validation {
    condition     = var.audit_collector_compartment_ocid == null || can(regex(local.compartment_ocid_pattern, var.audit_collector_compartment_ocid))
    error_message = "audit_collector_compartment_ocid must be a compartment or tenancy OCID, or null."
  }
}

variable "audit_collector_state_retention_days" {
  description = "Days after its last rewrite that an object under a collector's state prefix (<ledger prefix>collectors/, shared by the audit and Data Safe collectors) is deleted. The checkpoints are rewritten on every run, so only state of a collector stopped this long goes; the Audit API keeps events at most 365 days. null = never."
  type        = number
  default     = 400

  validation {
    condition     = var.audit_collector_state_retention_days == null || try(var.audit_collector_state_retention_days >= 30 && var.audit_collector_state_retention_days <= 3650 && floor(var.audit_collector_state_retention_days) == var.audit_collector_state_retention_days, false)
    error_message = "audit_collector_state_retention_days must be null or a whole number from 30 to 3650."
  }
}

variable "audit_collector_schedule_enabled" {
  description = "Create the Resource Scheduler schedule that runs the collector's catch-up (body {}) and the policy letting that schedule invoke it. false = run it only by hand."
  type        = bool
  default     = true
}

variable "audit_collector_schedule_cron" {
  description = "When the catch-up runs: a five-field UNIX cron expression (Resource Scheduler recurrence_type CRON), in UTC."
  type        = string
  default     = "*/15 * * * *"

  validation {
    condition     = can(regex(local.cron_pattern, var.audit_collector_schedule_cron))
    error_message = "audit_collector_schedule_cron must be five space-separated cron fields, e.g. */15 * * * *."
  }
}

# ---------------------------------------------------------------------------------------
# Data Safe collector (Oracle Data Safe audit events: catch-up and backfill)
# ---------------------------------------------------------------------------------------
# The same rules as the audit collector's variables (the shared patterns are in locals.tf).

variable "datasafe_collector_enabled" {
  description = "Deploy the datasafe-collector function (reads Oracle Data Safe audit events, ListAuditEvents, in every subscribed region), its dynamic group, its policy and its schedule. Off by default: it needs its own image, and it adds tenancy-wide read of Data Safe audit events."
  type        = bool
  default     = false
}

variable "datasafe_collector_image" {
  description = "OCIR image of datasafe-collector, pushed before apply (required when datasafe_collector_enabled is true)."
  type        = string
  default     = null

  validation {
    condition     = !var.datasafe_collector_enabled || can(regex(local.ocir_image_pattern, var.datasafe_collector_image))
    error_message = "datasafe_collector_image must be an OCIR image reference with a tag or digest when datasafe_collector_enabled is true."
  }
}

variable "datasafe_collector_memory_mb" {
  description = "Memory of the datasafe-collector function in MB (its timeout is always 300 s)."
  type        = number
  default     = 512

  validation {
    condition     = contains(local.function_memory_sizes, var.datasafe_collector_memory_mb)
    error_message = "datasafe_collector_memory_mb must be one of 128, 256, 512, 1024, 2048, 3072."
  }
}

variable "datasafe_collector_sink" {
  description = "Where the Data Safe collector ships (function config SINK): \"logzio\" or \"oci-logging\", with the same settings as that sink's shipper function (but its own type, datasafe_collector_type). null = logzio when enable_logzio_function is true, else oci-logging."
  type        = string
  default     = null

  validation {
    condition     = contains(local.collector_sinks, coalesce(var.datasafe_collector_sink, "logzio"))
    error_message = "datasafe_collector_sink must be \"logzio\", \"oci-logging\" or null."
  }
  validation {
    # The Logz.io shipper's own checks only demand the token secret when that shipper is on.
    condition     = !(var.datasafe_collector_enabled && var.datasafe_collector_sink == "logzio" && !var.enable_logzio_function && var.logzio_token_secret_ocid == null && !var.create_logzio_secret)
    error_message = "The Data Safe collector ships to Logz.io: set logzio_token_secret_ocid (or create_logzio_secret = true)."
  }
}

variable "datasafe_collector_concurrency" {
  description = "Data Safe API requests the collector runs at once (function config COLLECT_CONCURRENCY)."
  type        = number
  default     = 16

  validation {
    condition     = var.datasafe_collector_concurrency >= 1 && var.datasafe_collector_concurrency <= 64 && floor(var.datasafe_collector_concurrency) == var.datasafe_collector_concurrency
    error_message = "datasafe_collector_concurrency must be a whole number from 1 to 64."
  }
}

variable "datasafe_collector_lag" {
  description = "How far behind now a catch-up run stops (COLLECT_LAG); windows are on the time Data Safe collected an event (timeCollected), and the overlap re-reads the tail."
  type        = string
  default     = "10m"

  validation {
    # As functions/auditship/config.py reads it: whole minutes, at most a day.
    condition     = can(regex(local.duration_pattern, var.datasafe_collector_lag)) && try(sum([for m in regexall(local.duration_part_pattern, var.datasafe_collector_lag) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]]) <= 1440, false)
    error_message = "datasafe_collector_lag must be whole minutes up to a day, written like 10m, 1h or 1h30m."
  }
}

variable "datasafe_collector_overlap" {
  description = "How much of the previous window a catch-up run reads again (COLLECT_OVERLAP), for events that appear late."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex(local.duration_pattern, var.datasafe_collector_overlap)) && try(sum([for m in regexall(local.duration_part_pattern, var.datasafe_collector_overlap) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]]) <= 1440, false)
    error_message = "datasafe_collector_overlap must be whole minutes up to a day, written like 10m or 1h."
  }
}

variable "datasafe_collector_window" {
  description = "Length of one window (chunk) of collection time the Data Safe collector reads and checkpoints at a time (COLLECT_WINDOW), 1m to 14d."
  type        = string
  default     = "1d"

  validation {
    condition     = can(regex(local.duration_pattern, var.datasafe_collector_window)) && try(alltrue([for total in [sum([for m in regexall(local.duration_part_pattern, var.datasafe_collector_window) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]])] : total >= 1 && total <= 20160]), false)
    error_message = "datasafe_collector_window must be whole minutes from 1m to 14d, written like 1d or 6h."
  }
}

variable "datasafe_collector_regions" {
  description = "Regions the Data Safe collector reads (COLLECT_REGIONS, comma-joined). [] = every region the tenancy subscribes to (READY)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.datasafe_collector_regions : can(regex(local.region_pattern, r))])
    error_message = "datasafe_collector_regions must be OCI region identifiers such as eu-frankfurt-1."
  }
}

variable "datasafe_collector_compartment_ocid" {
  description = "Compartment (with its subtree) whose Data Safe audit events the collector reads (COLLECT_COMPARTMENT_OCID). null = the whole tenancy. It also narrows the collector's data-safe-audit-events grant to that compartment."
  type        = string
  default     = null

  validation {
    condition     = var.datasafe_collector_compartment_ocid == null || can(regex(local.compartment_ocid_pattern, var.datasafe_collector_compartment_ocid))
    error_message = "datasafe_collector_compartment_ocid must be a compartment or tenancy OCID, or null."
  }
}

variable "datasafe_collector_type" {
  description = "The `type` of Data Safe records (function config DATASAFE_TYPE), which is also their Logz.io log type: the Logz.io shipper's logzio_type is not passed to this collector."
  type        = string
  default     = "oci-datasafe"

  validation {
    condition     = can(regex(local.log_type_pattern, var.datasafe_collector_type))
    error_message = "datasafe_collector_type must be 1-100 characters without spaces (letters, digits, '_', '.', '-')."
  }
}

variable "datasafe_collector_redact" {
  description = "What of a Data Safe event is replaced by \"[REDACTED]\" before it ships (DATASAFE_REDACT): \"none\", \"binds\" (bind values, commandParam) or \"sql\" (commandParam and the SQL text, commandText)."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "binds", "sql"], var.datasafe_collector_redact)
    error_message = "datasafe_collector_redact must be \"none\", \"binds\" or \"sql\"."
  }
}

variable "datasafe_collector_schedule_enabled" {
  description = "Create the Resource Scheduler schedule that runs the Data Safe collector's catch-up (body {}) and the policy letting that schedule invoke it. false = run it only by hand."
  type        = bool
  default     = true
}

variable "datasafe_collector_schedule_cron" {
  description = "When the Data Safe catch-up runs: a five-field UNIX cron expression (Resource Scheduler recurrence_type CRON), in UTC. Default: every 10 minutes."
  type        = string
  default     = "*/10 * * * *"

  validation {
    condition     = can(regex(local.cron_pattern, var.datasafe_collector_schedule_cron))
    error_message = "datasafe_collector_schedule_cron must be five space-separated cron fields, e.g. */10 * * * *."
  }
}

# ---------------------------------------------------------------------------------------
# Uploaded Oracle audit files (issue 13): Fusion Middleware bus-stop files, database exports
# ---------------------------------------------------------------------------------------
# Each upload prefix is one path segment in the pipeline's bucket. Objects created under it are
# shipped like the connector's output (the Events rule, the sweep) and deleted by a lifecycle
# rule after processed_retention_days.

variable "fmw_upload_prefix" {
  description = "Prefix in the bucket where WebLogic/Fusion Middleware hosts upload their closed audit bus-stop files (one path segment ending in '/'). The Events rule ships every object created under it, the sweep covers it, a lifecycle rule deletes it after processed_retention_days. null = no such prefix."
  type        = string
  default     = "fmw/"

  validation {
    condition     = var.fmw_upload_prefix == null || can(regex(local.upload_prefix_pattern, var.fmw_upload_prefix))
    error_message = "fmw_upload_prefix must be one path segment ending in '/' (letters, digits, '_', '.', '-'), e.g. fmw/, or null."
  }
  validation {
    # The functions' own writes must never be shipped, and two sources must not share objects.
    condition = var.fmw_upload_prefix == null || alltrue([
      for p in concat(["${var.connector_object_prefix}/", var.dead_letter_prefix, var.logzio_ledger_prefix, var.logging_ledger_prefix], var.dbaudit_upload_prefix == null ? [] : [var.dbaudit_upload_prefix]) :
      !startswith(p, coalesce(var.fmw_upload_prefix, "-")) && !startswith(coalesce(var.fmw_upload_prefix, "-"), p)
    ])
    error_message = "fmw_upload_prefix must not overlap connector_object_prefix, dead_letter_prefix, the ledger prefixes or dbaudit_upload_prefix."
  }
}

variable "dbaudit_upload_prefix" {
  description = "Prefix in the bucket where DBAs upload database audit exports (DVSYS.AUDIT_TRAIL$ / UNIFIED_AUDIT_TRAIL as CSV or SQLcl JSON; one path segment ending in '/'). Shipped, swept and expired like fmw_upload_prefix. null = no such prefix."
  type        = string
  default     = "dbaudit/"

  validation {
    condition     = var.dbaudit_upload_prefix == null || can(regex(local.upload_prefix_pattern, var.dbaudit_upload_prefix))
    error_message = "dbaudit_upload_prefix must be one path segment ending in '/' (letters, digits, '_', '.', '-'), e.g. dbaudit/, or null."
  }
  validation {
    condition = var.dbaudit_upload_prefix == null || alltrue([
      for p in ["${var.connector_object_prefix}/", var.dead_letter_prefix, var.logzio_ledger_prefix, var.logging_ledger_prefix] :
      !startswith(p, coalesce(var.dbaudit_upload_prefix, "-")) && !startswith(coalesce(var.dbaudit_upload_prefix, "-"), p)
    ])
    error_message = "dbaudit_upload_prefix must not overlap connector_object_prefix, dead_letter_prefix or the ledger prefixes."
  }
}

variable "upload_principals" {
  description = "Who may upload under an upload prefix, by source (\"fmw\", \"dbaudit\"): dynamic_group_matching_rule creates a dynamic group <prefix>-<source>-uploaders (OCI hosts with instance principals, e.g. \"ANY {instance.id = 'ocid1.instance...'}\"); groups names existing IAM groups of API-key users (hosts outside OCI), as written in a policy (\"name\" or \"'Domain'/'name'\"). Each gets create-only access to new objects under that prefix in this bucket (no overwrite, read, list or delete). {} = no grants."
  type = map(object({
    dynamic_group_matching_rule = optional(string)
    groups                      = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for source in keys(var.upload_principals) : contains(["fmw", "dbaudit"], source)])
    error_message = "upload_principals keys must be \"fmw\" or \"dbaudit\"."
  }
  validation {
    condition = alltrue([
      for source in keys(var.upload_principals) :
      (source == "fmw" ? var.fmw_upload_prefix : var.dbaudit_upload_prefix) != null
    ])
    error_message = "upload_principals names a source whose upload prefix is null."
  }
  validation {
    condition = alltrue(flatten([
      for p in values(var.upload_principals) : concat(
        [p.dynamic_group_matching_rule == null || can(regex("^(ANY|ALL|any|all) ?\\{.+\\}$", p.dynamic_group_matching_rule))],
        [for g in p.groups : can(regex("^([A-Za-z0-9_.-]+|'[^']+'/'[^']+')$", g))],
      )
    ]))
    error_message = "A dynamic_group_matching_rule must look like ANY {...} or ALL {...}; a group must be a plain group name or 'Domain'/'name'."
  }
}

# ---------------------------------------------------------------------------------------
# Metrics, notifications and alarms (issue 14)
# ---------------------------------------------------------------------------------------

variable "metrics_enabled" {
  description = "Have every function post its custom metrics to OCI Monitoring (function config METRICS_COMPARTMENT_OCID, METRICS_NAMESPACE), grant them `use metrics` on that namespace only, and create the Notifications topic and the alarms. false = none of it."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "Monitoring namespace of the custom metrics (function config METRICS_NAMESPACE). Not oci_audit_ship: PostMetricData reserves the prefixes oci_ and oracle_ for Oracle's own namespaces (MetricDataDetails.namespace); a valid value starts with a letter and has only letters, digits and underscores."
  type        = string
  default     = "auditship"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,254}$", var.metrics_namespace)) && !startswith(lower(var.metrics_namespace), "oci_") && !startswith(lower(var.metrics_namespace), "oracle_")
    error_message = "metrics_namespace must start with a letter, hold only letters, digits and '_', and not start with the reserved oci_ or oracle_."
  }
}

variable "metrics_compartment_ocid" {
  description = "Compartment the metrics are posted to (METRICS_COMPARTMENT_OCID) and the alarms read (metric_compartment_id). null = compartment_ocid."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_compartment_ocid == null || can(regex(local.compartment_ocid_pattern, var.metrics_compartment_ocid))
    error_message = "metrics_compartment_ocid must be a compartment or tenancy OCID, or null."
  }
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarms' Notifications topic (the recipient must confirm the subscription from the mail OCI sends). \"\" = no subscription (subscribe PagerDuty, Slack, ... to the topic yourself)."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address or \"\"."
  }
}

variable "alarm_no_delivery_hours" {
  description = "The no-delivery alarm fires when a shipper function has delivered no record for this many hours while the connector is active (connector_active), or has posted no metric at all for that long (whole hours, 1-24: the MQL interval). It must fire well before the connector-output lifecycle rule deletes unshipped objects after processed_retention_days: at most half that time, which leaves the other half to sweep or replay."
  type        = number
  default     = 6

  validation {
    condition     = var.alarm_no_delivery_hours >= 1 && var.alarm_no_delivery_hours <= 24 && floor(var.alarm_no_delivery_hours) == var.alarm_no_delivery_hours
    error_message = "alarm_no_delivery_hours must be a whole number from 1 to 24 (the MQL interval 1h-24h)."
  }
  validation {
    condition     = var.alarm_no_delivery_hours + local.alarm_pending_minutes.no_delivery / 60 <= var.processed_retention_days * 24 / 2
    error_message = "alarm_no_delivery_hours (plus its 5-minute pending duration) must be at most half of processed_retention_days: the alarm has to fire well before the lifecycle rule deletes objects that were never shipped."
  }
}

variable "alarm_delivery_lag_seconds" {
  description = "The delivery-lag alarm fires when a shipper function's DeliveryLagSeconds (now minus the newest delivered record's own time) stays above this for 15 minutes. Its window (this plus 15 minutes) must be at most half of processed_retention_days, so the alarm fires well before the lifecycle rule deletes objects that are shipped that late or not at all."
  type        = number
  default     = 3600

  validation {
    condition     = var.alarm_delivery_lag_seconds >= 300 && floor(var.alarm_delivery_lag_seconds) == var.alarm_delivery_lag_seconds
    error_message = "alarm_delivery_lag_seconds must be a whole number of seconds, at least 300 (the connector alone batches up to 7 minutes)."
  }
  validation {
    condition     = var.alarm_delivery_lag_seconds + local.alarm_pending_minutes.delivery_lag * 60 <= var.processed_retention_days * 86400 / 2
    error_message = "alarm_delivery_lag_seconds (plus its 15-minute pending duration) must be at most half of processed_retention_days: the alarm has to fire well before the lifecycle rule deletes objects that were never shipped."
  }
}

variable "connector_active" {
  description = "Run the Service Connector (state ACTIVE). false = INACTIVE: it stops writing batches, and the no-delivery alarms, which only mean something while it runs, are disabled with it."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------
# Reconciliation sweep (issue 14)
# ---------------------------------------------------------------------------------------

variable "sweep_schedule_enabled" {
  description = "Create one Resource Scheduler schedule per shipper function and shipped prefix (the connector's, fmw_upload_prefix, dbaudit_upload_prefix) that invokes the function with {\"sweep\": \"oci://<ns>/<bucket>/<prefix>\", \"older_than\": sweep_older_than}, and one policy per schedule letting only it invoke only that function. false = sweep only by hand."
  type        = bool
  default     = true
}

variable "sweep_schedule_cron" {
  description = "When the sweeps run: a five-field UNIX cron expression (Resource Scheduler recurrence_type CRON), in UTC. Default: hourly, at minute 0."
  type        = string
  default     = "0 * * * *"

  validation {
    condition     = can(regex(local.cron_pattern, var.sweep_schedule_cron))
    error_message = "sweep_schedule_cron must be five space-separated cron fields, e.g. 0 * * * *."
  }
}

variable "sweep_older_than" {
  description = "Grace period of a scheduled sweep (payload older_than): objects younger than this are left to their own Object-Create event, so the sweep does not race it. Whole minutes, written like 15m or 1h; at most a day."
  type        = string
  default     = "15m"

  validation {
    condition     = can(regex(local.duration_pattern, var.sweep_older_than)) && try(alltrue([for total in [sum([for m in regexall(local.duration_part_pattern, var.sweep_older_than) : tonumber(m[0]) * local.duration_unit_minutes[m[1]]])] : total >= 1 && total <= 1440]), false)
    error_message = "sweep_older_than must be whole minutes from 1m to 1d, written like 15m or 1h."
  }
}
