"""Using a finished run's model: one keras process answering keras-free ones.

- `predict`: decode -> softmax -> top-k helpers, no keras (the demo's handlers use them).
- `loading`: load a run's model (safe_mode, checksum) and keep some loaded (`ModelCache`).
- `local`: predictions in this process (`python -m studio predict`).
- `attention_maps`: attention results, their cache and the maths of the maps (numpy only);
  `attention`: reading them off a model.
- `examples`: a run's example images for the demo and the Space.
- `client` (keras-free, in the Streamlit server) and `worker` (`python -m
  studio.inference.worker`, the only process here that imports keras): the one transport.
"""
