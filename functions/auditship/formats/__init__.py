"""Oracle audit files that are not OCI audit JSON: Fusion Middleware bus-stop files and
database audit exports (CSV, SQLcl JSON). See `formats.detect`."""
