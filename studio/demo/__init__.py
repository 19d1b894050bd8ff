"""The Gradio demo of finished runs, served inside the studio's own server.

Layout (the Streamlit server never imports keras, so the model runs in a worker process):

- `app.build_demo` builds the Gradio Blocks; its handlers decode images with the shared
  decoder and hand uint8 arrays to
- `client.InferenceClient`, which batches concurrent requests and talks over a private
  socket pair to
- `worker` (`python -m studio.demo.worker`), the only process here that imports keras; it
  keeps one loaded model per run (`studio.inference.ModelCache`).
- `mount` builds the routes and lifespan that `app.py` hands to `st.App`.
- `examples` writes a few test images of a run's dataset for the demo and the Space.
- `snippets` holds the Demo page's text (URLs, the gradio_client and CLI snippets).
- `sample_run` and `probe_images` make an untrained finished run and edge-case image files
  for the tests and the benchmark.

This file imports nothing heavy: the Demo page reads the constants below.
"""

GRADIO_PATH = "/gradio"  # where the demo is mounted in the studio's server
API_NAME = "/predict"  # the endpoint for gradio_client
MAX_TOP_K = 10
