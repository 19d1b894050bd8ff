"""Exports of a finished run's model that run elsewhere, each checked by its own runtime.

`formats` is the table of formats and `results` reads what an export stored (both keras-free,
for the UI); `producer` writes the exports (keras, TensorFlow's converters) and `parity`
runs an exported model in its runtime and compares it with the `.keras` model.
"""
