"""Clinical text in English and Chinese: sections, concepts with context, medication orders,
note classifiers and Chinese clinical NER."""
