"""vit-b16 fine-tuning, offline: a tiny keras-hub ViTBackbone saved as a local preset folder
stands in for google/vit-base-patch16-224-in21k (nothing here can download weights)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

from studio.config import ConfigError, make_config  # noqa: E402
from studio.inference.loading import load_keras_file  # noqa: E402
from studio.models.pretrained import PretrainedUnavailable, build_pretrained_vit  # noqa: E402
from studio.runs.preflight import preflight  # noqa: E402
from tests.helpers.tiny import NO_AUGMENT, tiny_vit_preset  # noqa: E402


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    return tiny_vit_preset(tmp_path_factory.mktemp("tiny-vit-preset"))


def _cfg(preset_dir, **model):
    cfg = make_config("finetune", "digits", None, {"model.pretrained": str(preset_dir)})
    cfg.model = dataclasses.replace(cfg.model, **model)
    return cfg


def test_model_resizes_scales_and_outputs_logits_and_round_trips(preset_dir, tmp_path):
    cfg = _cfg(preset_dir)
    model = build_pretrained_vit(cfg.model, NO_AUGMENT, 10, (32, 32, 3), seed=0)
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    logits = keras.ops.convert_to_numpy(model(x, training=False))
    assert logits.shape == (3, 10) and np.all(np.isfinite(logits))
    # The preset's weights are used, not fresh ones: the backbone equals the saved preset.
    reference = keras_hub.models.ViTBackbone.from_preset(str(preset_dir))
    backbone = next(layer for layer in model.layers if isinstance(layer, keras_hub.models.Backbone))
    for a, b in zip(backbone.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # Pixels reach the backbone scaled to [-1, 1] at its 16 px size.
    scaled = keras.Model(model.input, model.get_layer("scale").output)(x)
    scaled = keras.ops.convert_to_numpy(scaled)
    assert scaled.shape == (3, 16, 16, 3) and scaled.min() >= -1.0001 and scaled.max() <= 1.0001
    path = tmp_path / "vit_b16.keras"
    model.save(path)
    loaded = load_keras_file(path, compile=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)), logits, rtol=1e-5, atol=1e-5
    )


def test_freeze_backbone_trains_the_head_only(preset_dir):
    cfg = _cfg(preset_dir, freeze_backbone=True)
    model = build_pretrained_vit(cfg.model, NO_AUGMENT, 10, (32, 32, 3), seed=0)
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"logits"}


def test_unloadable_presets_fail_with_one_line_that_says_how_to_provide_them(tmp_path):
    cfg = make_config("finetune", "digits")
    assert cfg.model.pretrained == "hf://google/vit-base-patch16-224-in21k"
    missing = dataclasses.replace(cfg.model, pretrained="kaggle://nobody/nothing/keras/none")
    with pytest.raises(PretrainedUnavailable) as err:
        build_pretrained_vit(missing, NO_AUGMENT, 10, (32, 32, 3))
    message = str(err.value)
    assert "\n" not in message and "kaggle://nobody/nothing/keras/none" in message
    assert "save_to_preset" in message and "--set model.pretrained=" in message
    with pytest.raises(ConfigError, match="is not a keras-hub preset folder"):
        cfg = make_config("finetune", "digits", None, {"model.pretrained": str(tmp_path)})
        preflight(cfg, None)


def test_fine_tuning_from_a_local_preset_trains_and_reports_top_k(preset_dir, studio_home):
    from studio.runs.store import RunStore
    from studio.training.trainer import train_run

    store = RunStore()
    cfg = make_config(
        "finetune",
        "digits",
        None,
        {
            "model.pretrained": str(preset_dir),
            "train.epochs": "3",
            "train.batch_size": "16",
            "train.learning_rate": "3e-3",
            "data.limit": "64",
        },
    )
    run = store.create_run(cfg.to_dict())
    assert "-vit-b16-" in run.id
    train_run(store, run.id)
    rows = store.metrics(run.id, kind="epoch")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["loss"] < rows[0]["loss"], [r["loss"] for r in rows]
    assert all(r["val_top5"] is not None and r["val_accuracy"] is not None for r in rows)
    test = store.get(run.id).test
    assert set(test) >= {"loss", "accuracy", "top3", "top5"}
    assert test["accuracy"] <= test["top3"] <= test["top5"]


def test_train_form_offers_vit_b16_with_a_preset_folder_and_freeze_switch(preset_dir, tmp_path):
    from studio.config import VARIANTS
    from studio.ui.forms import build_config, preset_values

    assert "vit-b16" in VARIANTS
    values = preset_values("finetune") | {
        "model.pretrained": str(preset_dir),
        "model.freeze_backbone": True,
    }
    result = build_config("digits", "vit-b16", "finetune", values)
    assert result.ok, (result.errors, result.general)
    assert result.config.model.pretrained == str(Path(preset_dir).resolve())
    assert result.config.model.freeze_backbone is True
    values["model.pretrained"] = str(tmp_path / "nowhere")
    refused = build_config("digits", "vit-b16", "finetune", values)
    assert "is not a keras-hub preset folder" in refused.errors["model.pretrained"]
