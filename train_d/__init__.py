"""codexsd train_d."""
