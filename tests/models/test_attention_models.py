"""Attention read from tiny runs the studio did not train: every ViT variant, the LSA diagonal,
the temperature's true start, and a model file changed after training."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from studio.inference.attention import read_attention
from studio.inference.attention_maps import rollout_map
from studio.inference.loading import ModelCache
from studio.runs.artifacts import ModelUnavailable
from studio.runs.store import RunStore
from tests.helpers.sample_run import make_sample_run


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
    values = rollout_map(result.scores, result.grid, result.has_class_token)
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
