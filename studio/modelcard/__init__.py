"""A finished run's model card (README.md with Hugging Face metadata, curves and confusion
matrix as PNG) and the folder of a Hub model repository. No keras."""
