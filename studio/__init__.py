"""ViT Studio: train, understand and share Vision Transformers on small datasets."""

import os

# TensorFlow's C++ start-up chatter (CPU feature notes, absl warnings) drowns the CLI's
# one-line messages and the workers' logs; real errors still come through Python.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
