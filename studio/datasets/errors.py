"""Errors a dataset load raises; messages name the folder or file and the rule broken."""

from __future__ import annotations


class DatasetError(ValueError):
    """The data cannot make a dataset: too few classes, no decodable images, a bad layout."""


class DatasetUnavailable(DatasetError):
    """A built-in dataset is neither cached nor downloadable; the message says what to fetch."""
