"""codexsd curation."""
