resource "oci_functions_application" "this" {
  compartment_id             = var.compartment_ocid
  display_name               = "${var.name_prefix}-app"
  subnet_ids                 = [local.subnet_id]
  network_security_group_ids = var.network_security_group_ids
  shape                      = var.application_shape
  freeform_tags              = var.freeform_tags
}

resource "oci_functions_function" "shipper" {
  for_each = local.functions

  application_id     = oci_functions_application.this.id
  display_name       = each.key
  image              = each.value.image
  memory_in_mbs      = var.function_memory_mb
  timeout_in_seconds = var.function_timeout_seconds
  config             = each.value.config
  freeform_tags      = var.freeform_tags
}
