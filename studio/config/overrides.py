"""`--set FIELD=VALUE`: text overrides parsed into the type of the field they replace.

The CLI and the Train page both go through `apply_overrides`, so the browser and the
command line accept and refuse the same text.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from studio.config.errors import ConfigError
from studio.config.schema import SECTION_CLASSES, RunConfig


def _parse_value(raw: str, current: Any, where: str) -> Any:
    """Turn CLI text into the type of the field it overrides."""
    text = raw.strip()
    if text.lower() in ("none", "null") and (current is None or where in _OPTIONAL_FIELDS):
        return None
    if where in _OPTIONAL_TEXT_FIELDS:
        # An empty text box on the Train page means "not set", as "none" does.
        return text if text and text.lower() not in ("none", "null") else None
    if where in _TEXT_FIELDS:
        return text
    try:
        if isinstance(current, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(current, int) or where in _OPTIONAL_FIELDS:
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, list):
            text = text.strip("[]() ")
            return [int(part) for part in text.replace(",", " ").split()] if text else []
    except ValueError:
        kind = "true/false" if isinstance(current, bool) else type(current).__name__
        if isinstance(current, list):
            kind = "a list of integers like 128,64"
        raise ConfigError(f"{where}={raw!r} is not {kind}") from None
    return text


_OPTIONAL_FIELDS = {"data.input_size", "data.limit"}
_TEXT_FIELDS = {"distill.teacher", "model.pretrained"}
_OPTIONAL_TEXT_FIELDS = {"data.group_by"}


def field_names() -> list[str]:
    """All overridable fields as `section.field`."""
    names = ["preset"]
    for section, cls in SECTION_CLASSES.items():
        names += [f"{section}.{f.name}" for f in fields(cls)]
    return names


def resolve_field(name: str) -> str:
    """Accept `section.field` or a bare field name that is unique across sections."""
    all_names = field_names()
    if name in all_names:
        return name
    matches = [n for n in all_names if n.split(".")[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(f"'{name}' is ambiguous: say one of {', '.join(matches)}")
    raise ConfigError(f"unknown config field '{name}'")


def apply_overrides(cfg: RunConfig, overrides: dict[str, str]) -> RunConfig:
    """Return a copy of cfg with `field=value` text overrides applied (not yet validated)."""
    raw = cfg.to_dict()
    for name, value in overrides.items():
        full = resolve_field(name)
        if full == "preset":
            continue
        section, key = full.split(".")
        raw[section][key] = _parse_value(str(value), raw[section][key], full)
    return RunConfig.from_dict(raw)
