"""The Streamlit studio's logic, kept out of the pages so it can be tested without a browser.

Modules that build figures, configs and words from store rows (charts, forms, runinfo,
dataset_preview) import no Streamlit; the ones that draw widgets (common, live, train_form)
do. Nothing here imports keras.
"""
