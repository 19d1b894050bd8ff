"""Export a finished run as a Hugging Face Space folder, and push it to the Hub.

`export.export_space` writes the folder (allowlisted files only; no keras import), and
`push.push_space` uploads it with huggingface_hub. `python -m studio space RUN OUT_DIR
[--push USER/NAME]` and the Demo page's buttons both use them.
"""
