# Credentials are never passed through Terraform variables: the provider reads them from an
# ~/.oci/config profile (var.oci_config_profile) or its own environment-based settings.
provider "oci" {
  region              = var.region
  config_file_profile = var.oci_config_profile
}

# IAM (dynamic groups, policies) can only be written in the tenancy's home region.
provider "oci" {
  alias               = "home"
  region              = coalesce(var.home_region, var.region)
  config_file_profile = var.oci_config_profile
}
