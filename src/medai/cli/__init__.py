"""The ``medai`` command line (Typer); the only place that configures logging."""
