"""Keras layers of the studio's Vision Transformers (keras.ops only: any backend).

Exports load lazily: the UI imports `studio.layers.shift_geometry`, which runs this file
first, and must not pay for (or depend on) keras. A process that has already imported keras
gets the layer modules at once, so `import keras; import studio.layers` registers every layer
for `.keras` loading. `import studio.models` registers them in any order.
"""

from __future__ import annotations

import importlib
import sys

_EXPORTS = {
    "VIEW_NAMES": "shift_geometry",
    "shift_views": "shift_geometry",
    "ShiftedPatchTokenization": "patches",
    "PatchEncoder": "patches",
    "ClassToken": "patches",
    "LocalitySelfAttention": "attention",
    "SelfAttention": "attention",
    "ByteDropout": "dropout",
    "DropPath": "encoder",
    "TransformerBlock": "encoder",
    "PaddingMask": "captions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'studio.layers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"studio.layers.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if "keras" in sys.modules:
    for _name in __all__:
        __getattr__(_name)
    del _name
