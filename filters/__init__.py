"""codexsd filters."""
