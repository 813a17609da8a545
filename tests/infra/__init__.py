"""Offline checks of infra/ (Terraform) against the OCI provider schema."""
