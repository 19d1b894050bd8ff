"""The one error a config raises."""

from __future__ import annotations

import re
from collections.abc import Sequence

# The config's sections (schema.SECTION_CLASSES, which a test holds this to): the errors
# module comes first in the package, so it cannot read them from there.
SECTIONS = ("data", "model", "augment", "train", "distill", "caption")
# `section.field` or `preset=` as a message names them; quoted values are skipped, since a
# path a person typed ('/d/train.epochs/') looks like one.
_NAMED = re.compile(
    r"(?<!\w)'[^']*'|(?<!\w)\"[^\"]*\""
    r"|(?<![\w./-])((?:" + "|".join(SECTIONS) + r")\.[a-z_0-9]+(?![\w/-])|preset(?==))"
)


def named_fields(message: str) -> tuple[str, ...]:
    """The config fields `message` names (`model.patch_size`, `preset`), first named first."""
    found = (m.group(1) for m in _NAMED.finditer(message) if m.group(1))
    return tuple(dict.fromkeys(found))


class ConfigError(ValueError):
    """A config value that breaks a rule; the message names the field and the rule.

    `fields` carries the fields it is about, as `--set` spells them, so the Train page can
    put it under the right widget and say the widget's label instead; by default, the fields
    the message names.
    """

    def __init__(self, message: str, fields: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self._fields = None if fields is None else tuple(fields)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the error is about, first named first."""
        if self._fields is None:
            self._fields = named_fields(str(self))
        return self._fields
