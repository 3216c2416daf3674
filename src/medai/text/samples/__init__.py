"""Two synthetic sample notes (English and Chinese) for `medai demo` and the docs; written for
this project, no patient data."""
