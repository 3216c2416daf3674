"""Drug discovery: molecule tables, standardisation, fingerprints, filters, similarity screening,
property models and generation (RDKit and torch)."""
