"""Datasets as in-memory uint8 arrays, the one image decoder, zip uploads, and a look at
folders before loading.

Import the modules themselves (`studio.datasets.loader`, `.scan`, `.images`, ...): this file
imports nothing, so the UI can read a folder's classes without reaching the loaders, which
import keras when they must download.
"""
