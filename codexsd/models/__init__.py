"""Models and sampling backends."""
