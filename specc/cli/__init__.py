"""The `specc` command line."""
