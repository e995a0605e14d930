"""codexsd formats."""
