"""The Gradio demo of finished runs, served inside the studio's own server.

- `app.build_demo` builds the Gradio Blocks (class bars for a classifier, a caption for a
  caption run); its handlers decode images with the shared decoder and hand uint8 arrays
  to the inference worker through `studio.inference.client.InferenceClient` (the Streamlit
  server never imports keras).
- `mount` builds the routes and lifespan that `app.py` hands to `st.App`.
- `snippets` holds the Demo page's text (run labels, URLs, the gradio_client and CLI
  snippets).

This file imports nothing heavy: the Demo page reads the constants below.
"""

GRADIO_PATH = "/gradio"  # where the demo is mounted in the studio's server
API_NAME = "/predict"  # the endpoint for gradio_client
CAPTION_API_NAME = "/caption"  # a caption run's endpoint: run, image, beam_width -> caption
MAX_TOP_K = 10
# Each beam is one more decoder pass per token, so the demo's control stops here (the worker
# takes up to caption.beam_width's hard limit).
MAX_BEAM_WIDTH = 8
DEFAULT_BEAM_WIDTH = 3  # caption.beam_width's default
