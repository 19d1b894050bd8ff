"""Attention read from tiny runs the studio did not train: every ViT variant, DeiT's two
tokens, a keras-hub ViT-B/16 (a tiny local preset, offline), the LSA diagonal, the
temperature's true start, mean attention distance over the run's test images, and a model
file changed after training."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from studio.inference.attention import (
    _hub_backbone,
    compute_distance_cached,
    hub_vit_scores,
    read_attention,
)
from studio.inference.attention_maps import load_distance, mean_attention_distance, rollout_map
from studio.inference.loading import ModelCache
from studio.runs.artifacts import ModelUnavailable
from studio.runs.store import RunStore
from tests.helpers.sample_run import make_sample_run
from tests.helpers.tiny import tiny_vit_preset


def compute(store, run_id, image):
    return read_attention(ModelCache(store).get(run_id), image)


def _png(tmp_path, shape=(40, 30)):
    path = tmp_path / "image.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize(
    ("variant", "pooling", "tokens"),
    [("spt-lsa", "gap", 16), ("vit", "cls", 17), ("lsa", "flatten", 16)],
)
def test_attention_of_vanilla_and_lsa_models(tmp_path, variant, pooling, tokens):
    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant=variant, **{"model.pooling": pooling, "model.depth": "2"})
    result = compute(store, run.id, _png(tmp_path))
    assert result.scores.shape == (2, 2, tokens, tokens)
    np.testing.assert_allclose(result.scores.sum(axis=-1), 1.0, rtol=1e-5)
    assert result.pixels.shape == (32, 32, 3)
    assert result.probs.shape == (10,) and result.probs.sum() == pytest.approx(1.0, rel=1e-5)
    assert result.meta["class_names"] == [str(d) for d in range(10)]
    assert result.has_class_token is (pooling == "cls")
    lsa = variant != "vit"
    assert result.lsa is lsa
    diagonal = np.diagonal(result.scores, axis1=2, axis2=3)
    if lsa:
        assert result.temperatures.shape == (2,)
        assert np.all(diagonal == 0)  # masked, exactly
    else:
        assert np.all(diagonal > 0)
    values = rollout_map(result.scores, result.grid, result.prefix_tokens)
    assert values.shape == (4, 4) and values.sum() == pytest.approx(1.0)


def test_the_temperature_start_shown_is_where_the_layer_starts(tmp_path):
    # The tiny preset, like cpu-quick, has 16-wide tokens and 8-wide heads: LSA starts at
    # sqrt(key_dim) = sqrt(8), not sqrt(projection_dim) = sqrt(16).
    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant="lsa")
    assert (run.config["model"]["projection_dim"], run.config["model"]["key_dim"]) == (16, 8)
    result = compute(store, run.id, _png(tmp_path))
    assert result.meta["key_dim"] == 8
    np.testing.assert_allclose(result.temperatures, math.sqrt(8), rtol=1e-6)  # untrained


def test_a_model_file_whose_checksum_changed_is_refused(tmp_path):
    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant="vit")
    with open(store.run_dir(run.id) / "model.keras", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelUnavailable, match="does not match the checksum"):
        compute(store, run.id, _png(tmp_path))


def test_deit_attention_has_class_and_distillation_tokens(tmp_path):
    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant="deit", **{"model.depth": "2"})
    result = compute(store, run.id, _png(tmp_path))
    # 16 px / patch 4: 16 patches after the class and distillation tokens.
    assert result.scores.shape == (2, 2, 18, 18)
    np.testing.assert_allclose(result.scores.sum(axis=-1), 1.0, rtol=1e-5)
    assert result.prefix_tokens == 2 and result.prefix_names == ["class", "distillation"]
    assert result.temperatures is None and result.meta["key_dim"] == 8
    class_map, distillation_map = (
        rollout_map(result.scores, result.grid, 2, token=t) for t in (0, 1)
    )
    assert class_map.shape == distillation_map.shape == (4, 4)
    assert not np.allclose(class_map, distillation_map)  # two tokens, two views


@pytest.fixture(scope="module")
def hub_preset(tmp_path_factory):
    pytest.importorskip("keras_hub")
    return tiny_vit_preset(tmp_path_factory.mktemp("tiny-vit-preset"))


def test_vit_b16_attention_is_read_from_keras_hub_blocks(tmp_path, hub_preset):
    import keras

    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant="vit-b16", **{"model.pretrained": hub_preset})
    loaded = ModelCache(store).get(run.id)
    result = read_attention(loaded, _png(tmp_path))
    # The tiny preset: 16 px, patch 8 (read off the backbone, not the run's config), one
    # layer of two heads, class token first.
    assert (result.image_size, result.patch_size, result.grid) == (16, 8, 2)
    assert result.scores.shape == (1, 2, 5, 5) and result.prefix_names == ["class"]
    np.testing.assert_allclose(result.scores.sum(axis=-1), 1.0, rtol=1e-5)
    assert result.meta["key_dim"] == 8 and result.pixels.shape == (32, 32, 3)
    # The replayed blocks end where keras-hub's own encoder does.
    model = loaded.model
    images = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    backbone = _hub_backbone(model)
    scaled = keras.Model(model.input, model.get_layer("scale").output)(images)
    expected = keras.ops.convert_to_numpy(backbone(scaled))
    encoder = backbone.get_layer("vit_encoder")
    x = backbone.get_layer("vit_patching_and_embedding")(scaled)
    for block in encoder.encoder_layers:
        h = block.layer_norm_1(x)
        x = x + block.mha(h, h, return_attention_scores=True)[0]
        x = x + block.mlp(block.layer_norm_2(x))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(encoder.layer_norm(x)), expected, rtol=1e-4, atol=1e-4
    )
    scores = hub_vit_scores(model, images)
    assert len(scores) == 1 and scores[0].shape == (3, 2, 5, 5)


def test_mean_attention_distance_over_the_runs_test_images_is_cached(tmp_path):
    store = RunStore(tmp_path / "home")
    run = make_sample_run(store, variant="lsa", **{"model.depth": "2"})
    cache = ModelCache(store)
    path = compute_distance_cached(cache, run.id)
    result = load_distance(path)
    assert result.distances.shape == (2, 2)
    assert result.meta["images"] == 32 and result.meta["source"] == "test images of digits"
    assert result.reference_top.shape == (32,)
    assert np.all((result.reference_top > 0) & (result.reference_top <= 1))
    np.testing.assert_allclose(result.temperatures, math.sqrt(8), rtol=1e-6)
    # Under LSA no patch attends to itself: the nearest other patch centre is 4 px away, the
    # farthest 4 * 3 * sqrt(2).
    assert np.all(result.distances >= 4.0) and np.all(result.distances <= 12 * math.sqrt(2))
    # It is what the numpy maths gives on the attention of those images.
    from studio.inference.attention import model_scores, reference_images

    pixels, _ = reference_images(run, store.home)
    scores = model_scores(cache.get(run.id).model, run, pixels.astype("float32"))
    np.testing.assert_allclose(result.distances, mean_attention_distance(scores, 4, 4), rtol=1e-4)
