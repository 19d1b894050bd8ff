"""Dataset names a config may hold: the built-in datasets and `folder:PATH`.

Names only: whether a folder exists and holds class folders is a question for the disk,
asked by `studio.runs.preflight` before a run is queued.
"""

from __future__ import annotations

from studio.config.errors import ConfigError

BUILTIN = ("cifar10", "cifar100", "tf_flowers", "digits")
FOLDER_PREFIX = "folder:"
# The side CIFAR and digits are stored at; photo datasets take the model's image size.
NATIVE_SIZES = {"cifar10": 32, "cifar100": 32, "digits": 32}


def folder_of(name: str) -> str | None:
    """The path of a `folder:PATH` name (stripped), None for any other name."""
    return name[len(FOLDER_PREFIX) :].strip() if name.startswith(FOLDER_PREFIX) else None


def check_dataset_name(name: str) -> None:
    """Raise ConfigError unless `name` is a built-in dataset or `folder:` with a path."""
    if name in BUILTIN:
        return
    path = folder_of(name)
    if path == "":
        raise ConfigError("data.dataset='folder:' needs a path, e.g. folder:/data/my_images")
    if path is None:
        raise ConfigError(
            f"data.dataset='{name}' is unknown; choose one of {', '.join(BUILTIN)} or folder:PATH"
        )
