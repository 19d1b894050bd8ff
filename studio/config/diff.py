"""The config fields in which runs differ, named as `--set` names them (`train.epochs`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# A field a run's stored config lacks (one written by an older release) reads as this.
MISSING = None


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaf values by dotted name; lists stay whole, since `--set` sets them whole."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = list(value) if isinstance(value, tuple) else value
    return flat


def config_diff(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """(field, each config's value) for every field whose values are not all equal, in the
    first config's field order; fields only some configs have come last."""
    flats = [flatten(c) for c in configs]
    names = list(dict.fromkeys(name for flat in flats for name in flat))
    diff = []
    for name in names:
        values = [flat.get(name, MISSING) for flat in flats]
        if any(v != values[0] for v in values[1:]):
            diff.append((name, values))
    return diff
