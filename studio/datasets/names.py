"""Dataset names the studio knows, checked before a run is queued."""

from __future__ import annotations

from pathlib import Path

BUILTIN = ("cifar10", "cifar100", "tf_flowers", "digits")
FOLDER_PREFIX = "folder:"


def normalise_dataset_name(name: str) -> str:
    """Raise ConfigError for an unusable dataset; return the name with an absolute folder path.

    A worker may start from another directory than its launcher, so folder paths are made
    absolute here. Folders are listed (not decoded) to refuse empty and one-class ones
    before a run is queued.
    """
    from studio.config import ConfigError

    if name in BUILTIN:
        return name
    if name.startswith(FOLDER_PREFIX):
        raw = name[len(FOLDER_PREFIX) :].strip()
        if not raw:
            raise ConfigError("data.dataset='folder:' needs a path, e.g. folder:/data/my_images")
        path = Path(raw).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(f"data.dataset='{name}': folder {path} does not exist")
        from studio.datasets.scan import scan_folder

        summary = scan_folder(path, samples_per_class=0)
        if not summary.ok:
            raise ConfigError(f"data.dataset='{name}': {summary.problems[0]}")
        return f"{FOLDER_PREFIX}{path}"
    raise ConfigError(
        f"data.dataset='{name}' is unknown; choose one of {', '.join(BUILTIN)} or folder:PATH"
    )
