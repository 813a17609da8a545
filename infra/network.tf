# Optional network (create_network = true): a VCN with one private subnet whose only routes
# are a NAT gateway (Logz.io) and a service gateway (OCIR, Object Storage, Vault, Logging).

data "oci_core_services" "all" {
  count = var.create_network ? 1 : 0

  filter {
    name   = "name"
    values = ["All .* Services In Oracle Services Network"]
    regex  = true
  }
}

resource "oci_core_vcn" "this" {
  count = var.create_network ? 1 : 0

  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name_prefix}-vcn"
  dns_label      = "auditship"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_nat_gateway" "this" {
  count = var.create_network ? 1 : 0

  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-nat"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_service_gateway" "this" {
  count = var.create_network ? 1 : 0

  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-sgw"
  freeform_tags  = var.freeform_tags

  services {
    service_id = data.oci_core_services.all[0].services[0].id
  }
}

resource "oci_core_route_table" "private" {
  count = var.create_network ? 1 : 0

  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-private-rt"
  freeform_tags  = var.freeform_tags

  route_rules {
    description       = "Oracle services (OCIR, Object Storage, Vault, Logging) without the internet"
    destination       = data.oci_core_services.all[0].services[0].cidr_block
    destination_type  = "SERVICE_CIDR_BLOCK"
    network_entity_id = oci_core_service_gateway.this[0].id
  }

  route_rules {
    description       = "Everything else (the Logz.io listener) through NAT"
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_nat_gateway.this[0].id
  }
}

# Egress only: functions take no inbound connections.
resource "oci_core_security_list" "functions" {
  count = var.create_network ? 1 : 0

  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this[0].id
  display_name   = "${var.name_prefix}-functions-egress"
  freeform_tags  = var.freeform_tags

  egress_security_rules {
    description      = "HTTPS to Oracle services through the service gateway"
    destination      = data.oci_core_services.all[0].services[0].cidr_block
    destination_type = "SERVICE_CIDR_BLOCK"
    protocol         = "6"
    stateless        = false
    tcp_options {
      min = 443
      max = 443
    }
  }

  dynamic "egress_security_rules" {
    for_each = toset(var.egress_tcp_ports)
    content {
      description      = "TCP ${egress_security_rules.value} to the internet (Logz.io listener)"
      destination      = "0.0.0.0/0"
      destination_type = "CIDR_BLOCK"
      protocol         = "6"
      stateless        = false
      tcp_options {
        min = egress_security_rules.value
        max = egress_security_rules.value
      }
    }
  }
}

resource "oci_core_subnet" "functions" {
  count = var.create_network ? 1 : 0

  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.this[0].id
  cidr_block                 = var.subnet_cidr
  display_name               = "${var.name_prefix}-functions"
  dns_label                  = "functions"
  prohibit_public_ip_on_vnic = true
  prohibit_internet_ingress  = true
  route_table_id             = oci_core_route_table.private[0].id
  security_list_ids          = [oci_core_security_list.functions[0].id]
  freeform_tags              = var.freeform_tags
}
