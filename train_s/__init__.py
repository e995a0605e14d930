"""codexsd train_s."""
