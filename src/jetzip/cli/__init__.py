"""Command-line interface: a thin layer over the library (see `jetzip.cli.main`)."""
