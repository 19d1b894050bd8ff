"""How good a finished model is, and where it fails: keras-free maths and the stored report.

`metrics` turns test-set probabilities into the report (per-class table, confusion matrix,
calibration); `report` writes and reads it in the run folder; `compare` sets two reports side
by side. The keras part (predicting the test set) is `studio.training.evaluation`'s.
"""
