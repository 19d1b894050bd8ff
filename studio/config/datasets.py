"""Dataset names a config may hold: the built-in datasets, `folder:PATH` and, for captioning
runs, `coco:PATH`.

Names only: whether a folder exists and holds class folders is a question for the disk,
asked by `studio.runs.preflight` before a run is queued.
"""

from __future__ import annotations

from studio.config.errors import ConfigError

BUILTIN = ("cifar10", "cifar100", "tf_flowers", "digits")
# Captioning (`task=caption`): the shapes set the studio renders itself (offline, seeded).
CAPTION_BUILTIN = ("shapes",)
FOLDER_PREFIX = "folder:"
# A COCO-format caption file (COCO, VizWiz, ...): its JSON, or the folder holding it.
COCO_PREFIX = "coco:"
# The side CIFAR and digits are stored at; photo datasets take the model's image size.
NATIVE_SIZES = {"cifar10": 32, "cifar100": 32, "digits": 32}


def folder_of(name: str) -> str | None:
    """The path of a `folder:PATH` name (stripped), None for any other name."""
    return name[len(FOLDER_PREFIX) :].strip() if name.startswith(FOLDER_PREFIX) else None


def coco_of(name: str) -> str | None:
    """The path of a `coco:PATH` name (stripped), None for any other name."""
    return name[len(COCO_PREFIX) :].strip() if name.startswith(COCO_PREFIX) else None


def check_dataset_name(name: str, task: str = "classify") -> None:
    """Raise ConfigError unless `name` is a dataset `task` can train on: a built-in one of
    the task, `folder:PATH` (class folders, or images with captions.csv / captions.jsonl), or
    for captioning `coco:PATH`."""
    caption = task == "caption"
    builtin = CAPTION_BUILTIN if caption else BUILTIN
    choices = f"{', '.join(builtin)}, folder:PATH" + (" or coco:PATH" if caption else "")
    if name in builtin:
        return
    if name in BUILTIN + CAPTION_BUILTIN:
        other = "captioning (task=caption)" if name in CAPTION_BUILTIN else "classification"
        raise ConfigError(
            f"data.dataset='{name}' is a {other} dataset, and this run's task is {task}; "
            f"choose one of {choices}"
        )
    path = folder_of(name)
    if path == "":
        raise ConfigError("data.dataset='folder:' needs a path, e.g. folder:/data/my_images")
    coco = coco_of(name)
    if coco is not None and not caption:
        raise ConfigError(
            f"data.dataset='{name}' holds captions: train it with task=caption (--task caption)"
        )
    if coco == "":
        raise ConfigError(
            "data.dataset='coco:' needs the path of a COCO-format caption file or its folder, "
            "e.g. coco:/data/vizwiz/annotations/train.json"
        )
    if path is None and coco is None:
        raise ConfigError(f"data.dataset='{name}' is unknown; choose one of {choices}")
