"""What is known about the built-in datasets without loading them: classes, archives, sizes.

Plain data, read by the loaders, the Train page's preview and the pre-flight checks; nothing
here downloads or imports keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
# The fine labels in label order (alphabetical, as in the archive's meta file).
_CIFAR100_FINE_LABELS = """
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab
crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper
snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm
"""
CIFAR100_CLASSES = _CIFAR100_FINE_LABELS.split()
NATIVE_SIZE = 32


@dataclass(frozen=True)
class Archive:
    title: str
    url: str
    megabytes: int
    keras_name: str  # what keras.datasets saves the downloaded archive as, in its cache
    classes: list[str]


ARCHIVES = {
    "cifar10": Archive(
        "CIFAR-10",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        163,
        "cifar-10-batches-py-target_archive",
        CIFAR10_CLASSES,
    ),
    "cifar100": Archive(
        "CIFAR-100",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        161,
        "cifar-100-python-target_archive",
        CIFAR100_CLASSES,
    ),
}

# The one place for what the dataset picker promises. Only facts that hold on any machine:
# training time depends on the preset and the hardware, so the one estimate given is for the
# quick preset on digits (about a minute on 2 CPU cores, measured); CIFAR with cpu-best takes
# 4-7 min for 15 epochs on the same machine, too preset-bound to print beside the name.
DIGITS_QUICK_RUN = "about a minute with the cpu-quick preset on a CPU"
PICKER_LABELS = {
    "digits": "Digits (offline, 1,797 small images)",
    "cifar10": "CIFAR-10 (163 MB download, once)",
    "cifar100": "CIFAR-100 (161 MB download, once)",
    "tf_flowers": "TF Flowers (220 MB download, once)",
}

FLOWERS_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
)
FLOWERS_ARCHIVE = "flower_photos.tgz"
FLOWERS_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
DIGITS_CLASSES = tuple(str(d) for d in range(10))


def known_class_names(dataset: str) -> list[str] | None:
    """A built-in dataset's class names in label order (None for a folder or unknown name).

    TF Flowers' are its folders, sorted as the folder loader sorts them.
    """
    if dataset == "digits":
        return list(DIGITS_CLASSES)
    if dataset in ARCHIVES:
        return list(ARCHIVES[dataset].classes)
    if dataset == "tf_flowers":
        return list(FLOWERS_CLASSES)
    return None


def cifar_cache_file(cache_dir: Path, name: str) -> Path:
    """Where a CIFAR dataset is kept as native-size arrays after its first load."""
    return Path(cache_dir) / f"{name}-{NATIVE_SIZE}px.npz"


def flowers_archive(cache_dir: Path) -> Path:
    """Where the downloaded TF Flowers archive lives (and where to put one fetched by hand)."""
    return Path(cache_dir) / "datasets" / FLOWERS_ARCHIVE


def flowers_folder(cache_dir: Path) -> Path:
    """The extracted flower_photos folder (keras.utils.get_file names it `<stem>_extracted`)."""
    return Path(cache_dir) / "datasets" / "flower_photos_extracted" / "flower_photos"
