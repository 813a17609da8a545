# Created only when asked: the default is to pass the OCID of a secret made out of band
# (var.logzio_token_secret_ocid), so the token never enters Terraform state.
resource "oci_vault_secret" "logzio_token" {
  count = var.create_logzio_secret ? 1 : 0

  compartment_id = local.secret_compartment
  vault_id       = var.vault_ocid
  key_id         = var.vault_key_ocid
  secret_name    = "${var.name_prefix}-logzio-token"
  description    = "Logz.io shipping token for ${var.name_prefix}"
  freeform_tags  = var.freeform_tags

  secret_content {
    content_type = "BASE64"
    content      = base64encode(var.logzio_token)
  }
}
