terraform {
  # 1.9+: variable validations may refer to other variables (used for the either/or inputs).
  # terraform test with mock_provider needs 1.7+.
  required_version = ">= 1.9.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # Checked offline against the 7.19.0 schema (the stricter one: events `condition` is
      # required there, and only the `actions { actions {} }` form exists). The 8.x changelog
      # has no breaking change for the resources used here; 8.22+ only warns about the
      # deprecated inner `actions` block.
      version = ">= 7.0.0, < 9.0.0"
    }
  }
}
