"""How a run is named to people, the same on every page, in the demo and in legends:
`#4 ViT + SPT + LSA · digits`."""

from __future__ import annotations

from studio.config.datasets import folder_of
from studio.config.variants import variant_label
from studio.runs.store import Run


def dataset_label(name: str) -> str:
    """`folder:/a/b/flowers` reads as `flowers (folder)`."""
    folder = folder_of(name)
    if folder:
        path = folder.rstrip("/")
        return f"{path.rsplit('/', 1)[-1] or path} (folder)"
    return name


def run_name(run: Run) -> str:
    """The run's name: its number, model and dataset."""
    return f"#{run.seq} {variant_label(run.variant)} · {dataset_label(run.dataset)}"


def run_choice(run: Run) -> str:
    """A run in a picker: its name and, once tested, its test top-1."""
    test = (run.test or {}).get("accuracy")
    score = f" · test top-1 {100 * test:.1f}%" if test is not None else ""
    return f"{run_name(run)}{score}"
