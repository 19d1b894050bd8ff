"""Dataset names the studio knows, checked without loading anything."""

from __future__ import annotations

from pathlib import Path

BUILTIN = ("cifar10", "cifar100", "tf_flowers", "digits")
FOLDER_PREFIX = "folder:"


def check_dataset_name(name: str) -> None:
    """Raise ConfigError for an unknown dataset or a folder path that does not exist."""
    from studio.config import ConfigError

    if name in BUILTIN:
        return
    if name.startswith(FOLDER_PREFIX):
        path = Path(name[len(FOLDER_PREFIX) :]).expanduser()
        if not path.is_dir():
            raise ConfigError(f"data.dataset='{name}': folder {path} does not exist")
        return
    raise ConfigError(
        f"data.dataset='{name}' is unknown; choose one of {', '.join(BUILTIN)} or folder:PATH"
    )
