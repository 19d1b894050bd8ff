"""The Gradio demo of finished runs, served inside the studio's own server.

- `app.build_demo` builds the Gradio Blocks; its handlers decode images with the shared
  decoder and hand uint8 arrays to the inference worker through
  `studio.inference.client.InferenceClient` (the Streamlit server never imports keras).
- `mount` builds the routes and lifespan that `app.py` hands to `st.App`.
- `snippets` holds the Demo page's text (run labels, URLs, the gradio_client and CLI
  snippets).

This file imports nothing heavy: the Demo page reads the constants below.
"""

GRADIO_PATH = "/gradio"  # where the demo is mounted in the studio's server
API_NAME = "/predict"  # the endpoint for gradio_client
MAX_TOP_K = 10
