"""Training: the only package (with models, layers and evaluation) that imports keras."""
