"""What a dataset load says when it cannot work: the folder, the rule, the file to fetch."""

from __future__ import annotations

import urllib.error

import pytest

from studio.config import DataConfig
from studio.datasets.errors import DatasetError, DatasetUnavailable
from studio.datasets.loader import load_dataset
from studio.datasets.scan import scan_folder
from tests.helpers.image_folders import make_tree, write_images


def load(dataset: str, tmp_path, **data):
    return load_dataset(
        DataConfig(dataset=dataset, **data), image_size=16, seed=0, cache_dir=tmp_path / "cache"
    )


def test_empty_folder_needs_two_classes(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DatasetError) as err:
        load(f"folder:{root}", tmp_path)
    assert str(err.value) == f"needs at least 2 class folders, found 0 in {root}"


def test_one_class_folder_is_named_in_the_error(tmp_path):
    root = make_tree(tmp_path / "pets", {"cats": 3})
    with pytest.raises(DatasetError) as err:
        load(f"folder:{root}", tmp_path)
    assert str(err.value) == f"needs at least 2 class folders, found 1: {root / 'cats'}"


def test_loose_images_without_class_folders(tmp_path):
    root = tmp_path / "loose"
    write_images(root, 3, (1, 2, 3))
    with pytest.raises(DatasetError, match="holds 3 image\\(s\\) but no class folders"):
        load(f"folder:{root}", tmp_path)


def test_class_without_decodable_images(tmp_path):
    root = make_tree(tmp_path / "pets", {"cats": 3})
    (root / "dogs").mkdir()
    for name in ("a.jpg", "b.png"):
        (root / "dogs" / name).write_text("not an image")
    with pytest.raises(DatasetError) as err:
        load(f"folder:{root}", tmp_path)
    assert str(err.value) == (
        f"class folder {root / 'dogs'} has no decodable images (2 file(s) skipped; "
        "e.g. a.jpg: not an image (PIL could not identify it))"
    )


def test_class_folder_without_image_files(tmp_path):
    root = make_tree(tmp_path / "pets", {"cats": 3})
    (root / "dogs").mkdir()
    (root / "dogs" / "readme.md").write_text("todo: add dogs")
    summary = scan_folder(root)
    assert summary.problems == [
        f"class folder {root / 'dogs'} has no image files (1 other file(s), e.g. readme.md)"
    ]
    with pytest.raises(DatasetError, match="has no image files"):
        load(f"folder:{root}", tmp_path)


def test_test_class_missing_from_train(tmp_path):
    root = tmp_path / "split"
    make_tree(root / "train", {"cats": 3, "dogs": 3})
    make_tree(root / "test", {"cats": 1, "dogs": 1, "owls": 1})
    with pytest.raises(DatasetError, match=r"owls has no counterpart in .*train"):
        load(f"folder:{root}", tmp_path)


def test_split_folders_without_train(tmp_path):
    root = tmp_path / "split"
    make_tree(root / "test", {"cats": 1, "dogs": 1})
    with pytest.raises(DatasetError, match="has test/ but no train/ folder"):
        load(f"folder:{root}", tmp_path)


def test_missing_folder_and_unknown_name(tmp_path):
    with pytest.raises(DatasetError, match=r"folder .*nowhere does not exist"):
        load(f"folder:{tmp_path / 'nowhere'}", tmp_path)
    with pytest.raises(DatasetError, match="'imagenet' is unknown"):
        load("imagenet", tmp_path)


@pytest.fixture
def offline_keras(tmp_path, monkeypatch):
    """Real keras.utils.get_file with an empty Keras home and a network that always fails."""
    keras = pytest.importorskip("keras")
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    return keras, home


@pytest.mark.parametrize(
    ("name", "url", "archive"),
    [
        ("cifar10", "cifar-10-python.tar.gz", "cifar-10-batches-py-target_archive"),
        ("cifar100", "cifar-100-python.tar.gz", "cifar-100-python-target_archive"),
    ],
)
def test_cifar_offline_names_the_archive_and_where_keras_wants_it(
    tmp_path, offline_keras, name, url, archive
):
    _, home = offline_keras
    with pytest.raises(DatasetUnavailable) as err:
        load(name, tmp_path)
    message = str(err.value)
    assert "not cached and could not be downloaded" in message
    assert "Temporary failure in name resolution" in message
    assert f"https://www.cs.toronto.edu/~kriz/{url}" in message
    assert f"save it as {home / 'datasets' / archive}" in message
    assert "folder:PATH" in message
    assert not list((tmp_path / "cache").glob("*.npz"))


def test_tf_flowers_offline_names_the_archive_and_the_folder_option(tmp_path, offline_keras):
    with pytest.raises(DatasetUnavailable) as err:
        load("tf_flowers", tmp_path)
    message = str(err.value)
    assert "example_images/flower_photos.tgz" in message
    assert f"put it at {tmp_path / 'cache' / 'datasets' / 'flower_photos.tgz'}" in message
    assert "folder:PATH/flower_photos" in message
