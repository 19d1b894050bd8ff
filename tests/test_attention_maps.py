"""Attention maps: rollout and query maps (shapes, normalisation, class token, LSA diagonal),
the attention service on tiny models it did not train, and its errors."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from studio.attention_maps import (
    AttentionResult,
    class_token_share,
    diagonal_share,
    head_mean,
    load_result,
    patch_token,
    query_maps,
    rollout,
    rollout_map,
    save_result,
)


def _random_scores(layers=3, heads=2, tokens=5, seed=0, mask_diagonal=False):
    """Row-stochastic attention like a softmax gives, optionally with LSA's zero diagonal."""
    logits = np.random.default_rng(seed).normal(size=(layers, heads, tokens, tokens))
    if mask_diagonal:
        logits[..., np.arange(tokens), np.arange(tokens)] = -np.inf
    scores = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return scores / scores.sum(axis=-1, keepdims=True)


# -- rollout ------------------------------------------------------------------------------------


def test_rollout_of_one_layer_by_hand():
    # One head, two tokens: token 1 attends only to itself.
    scores = np.array([[[[0.5, 0.5], [0.0, 1.0]]]])
    # A + I = [[1.5, 0.5], [0, 2]], rows renormalised.
    np.testing.assert_allclose(rollout(scores), [[0.75, 0.25], [0.0, 1.0]])


def test_rollout_multiplies_layers_from_the_first_up():
    first = np.array([[[0.5, 0.5], [0.0, 1.0]]])
    second = np.array([[[1.0, 0.0], [1.0, 0.0]]])
    a1 = np.array([[0.75, 0.25], [0.0, 1.0]])
    a2 = np.array([[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(rollout(np.stack([first, second])), a2 @ a1)


def test_rollout_averages_heads_before_adding_the_identity():
    scores = _random_scores(layers=2, heads=4)
    averaged = scores.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(rollout(scores), rollout(averaged))


def test_rollout_of_pure_self_attention_is_the_identity():
    scores = np.broadcast_to(np.eye(4), (3, 2, 4, 4))
    np.testing.assert_allclose(rollout(scores), np.eye(4))


def test_rollout_rows_are_distributions():
    matrix = rollout(_random_scores(layers=6, tokens=10))
    assert matrix.shape == (10, 10)
    assert np.all(matrix >= 0)
    np.testing.assert_allclose(matrix.sum(axis=-1), 1.0)


@pytest.mark.parametrize("has_class_token", [False, True])
def test_rollout_map_covers_the_patch_grid_and_sums_to_one(has_class_token):
    tokens = 9 + (1 if has_class_token else 0)
    scores = _random_scores(tokens=tokens, mask_diagonal=True)
    values = rollout_map(scores, 3, has_class_token)
    assert values.shape == (3, 3)
    assert np.all(values >= 0)
    assert values.sum() == pytest.approx(1.0)


def test_rollout_map_reads_the_class_token_row_or_averages_all_rows():
    scores = _random_scores(tokens=5)
    matrix = rollout(scores)
    with_class = rollout_map(scores, 2, has_class_token=True)
    np.testing.assert_allclose(with_class.ravel(), matrix[0, 1:] / matrix[0, 1:].sum())
    without = rollout_map(_random_scores(tokens=4), 2, has_class_token=False)
    np.testing.assert_allclose(without.ravel(), rollout(_random_scores(tokens=4)).mean(axis=0))


def test_a_grid_that_does_not_match_the_tokens_is_refused():
    with pytest.raises(ValueError, match="do not fill a 3x3 grid"):
        rollout_map(_random_scores(tokens=5), 3)
    with pytest.raises(ValueError, match=r"\(layers, heads, T, T\)"):
        rollout(np.ones((2, 3, 4)))


# -- query maps ---------------------------------------------------------------------------------


def test_query_maps_shape_and_rows_sum_to_one_without_a_class_token():
    scores = _random_scores(layers=4, heads=3, tokens=16)
    maps = query_maps(scores, 1, 2, grid=4)
    assert maps.shape == (4, 3, 4, 4)
    np.testing.assert_allclose(maps.sum(axis=(-1, -2)), 1.0)
    np.testing.assert_allclose(maps[2, 1].ravel(), scores[2, 1, 6])


def test_query_maps_with_a_class_token_leave_out_its_share():
    scores = _random_scores(layers=2, heads=2, tokens=10)
    maps = query_maps(scores, 2, 0, grid=3, has_class_token=True)
    assert maps.shape == (2, 2, 3, 3)
    share = class_token_share(scores, 2, 0, 3)
    np.testing.assert_allclose(maps.sum(axis=(-1, -2)) + share, 1.0)
    assert patch_token(2, 0, 3, True) == 7


def test_under_lsa_the_query_patch_has_zero_attention_to_itself():
    scores = _random_scores(tokens=9, mask_diagonal=True)
    maps = query_maps(scores, 1, 1, grid=3)
    assert np.all(maps[:, :, 1, 1] == 0)
    np.testing.assert_allclose(maps.sum(axis=(-1, -2)), 1.0)
    np.testing.assert_array_equal(diagonal_share(scores), np.zeros(3))
    assert np.all(diagonal_share(_random_scores(tokens=9)) > 0)


def test_a_query_outside_the_grid_is_refused():
    with pytest.raises(ValueError, match="outside the 3x3 grid"):
        query_maps(_random_scores(tokens=9), 3, 0, grid=3)


def test_head_mean_keeps_rows_normalised():
    matrix = head_mean(_random_scores(heads=4, tokens=6), layer=1)
    assert matrix.shape == (6, 6)
    np.testing.assert_allclose(matrix.sum(axis=-1), 1.0)


# -- files and figures --------------------------------------------------------------------------


def _result(lsa=True, pooling="gap", tokens=16):
    return AttentionResult(
        scores=_random_scores(layers=2, heads=2, tokens=tokens, mask_diagonal=lsa).astype("f4"),
        pixels=np.zeros((8, 8, 3), np.uint8),
        probs=np.array([0.1, 0.7, 0.2], np.float32),
        temperatures=np.array([3.9, 4.1], np.float32) if lsa else None,
        meta={
            "image_size": 8,
            "patch_size": 2,
            "pooling": pooling,
            "key_dim": 16,
            "class_names": ["a", "b", "c"],
        },
    )


@pytest.mark.parametrize("lsa", [True, False])
def test_results_round_trip_through_npz_without_pickles(tmp_path, lsa):
    result = _result(lsa)
    path = tmp_path / "sub" / "r.npz"
    save_result(path, result)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) >= {"scores", "pixels", "probs", "meta"}
    loaded = load_result(path)
    np.testing.assert_array_equal(loaded.scores, result.scores)
    assert loaded.lsa is lsa and loaded.meta == result.meta
    assert loaded.grid == 4 and loaded.layers == 2 and loaded.heads == 2
    assert loaded.top_classes(2) == [("b", pytest.approx(0.7)), ("c", pytest.approx(0.2))]
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize(("lsa", "pooling", "tokens"), [(True, "gap", 16), (False, "cls", 17)])
def test_attention_figures_build_for_vanilla_and_lsa(lsa, pooling, tokens):
    from studio.ui import attention_figures as af

    result = _result(lsa, pooling, tokens)
    rollout_fig = af.rollout_figure(result, query=(1, 2))
    assert [t.type for t in rollout_fig.data].count("heatmap") == 2
    maps = query_maps(result.scores, 1, 2, result.grid, result.has_class_token)
    heads_fig = af.query_maps_figure(maps, (1, 2), result.patch_size, result.lsa)
    assert [t.type for t in heads_fig.data].count("heatmap") == 2 * 3  # 2 layers x (2 heads + mean)
    crosses = [t for t in heads_fig.data if t.type == "scatter"]
    assert len(crosses) == (6 if lsa else 0)
    assert af.matrix_figure(result, 1).data[0].z.shape == (tokens, tokens)
    assert len(af.diagonal_figure(result).data[0].y) == 2
    if lsa:
        assert list(af.temperature_figure(result.temperatures, 16).data[0].y) == pytest.approx(
            [3.9, 4.1]
        )
    # Colours as rgb(): Streamlit 1.67 draws Inferno's first hex colour wrongly.
    assert all(c.startswith("rgb(") for _, c in rollout_fig.data[-1].colorscale)


# -- the service on tiny models -----------------------------------------------------------------


def finished_run(store, variant, pooling="gap", seed=0):
    """A completed run whose model.keras is a tiny untrained build_vit, as the trainer saves it."""
    import keras

    from studio.checksum import sha256_file
    from studio.config import AugmentConfig, ModelConfig
    from studio.models import build_vit
    from studio.presets import make_config

    config = make_config("cpu-quick", "digits", variant).to_dict()
    config["model"].update(
        image_size=8,
        patch_size=4,
        projection_dim=8,
        depth=2,
        num_heads=2,
        mlp_units=[16, 8],
        head_units=[8],
        pooling=pooling,
    )
    run = store.create_run(config)
    keras.utils.set_random_seed(seed)
    model = build_vit(
        ModelConfig(**config["model"]),
        AugmentConfig(flip=False, rotation=0.0, zoom=0.0),
        num_classes=3,
        input_shape=(16, 16, 3),
        mean=[120.0] * 3,
        variance=[3000.0] * 3,
    )
    folder = store.run_dir(run.id)
    model.save(folder / "model.keras")
    (folder / "labels.json").write_text(
        json.dumps({"class_names": ["a", "b", "c"], "input_size": 16, "dataset": "digits"})
    )
    store.update(run.id, model_sha256=sha256_file(folder / "model.keras"))
    store.finish(run.id, "completed")
    return store.get(run.id)


def _png(tmp_path, shape=(40, 30)):
    from PIL import Image

    path = tmp_path / "image.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.models
@pytest.mark.parametrize(
    ("variant", "pooling", "tokens"),
    [("spt-lsa", "gap", 4), ("vit", "cls", 5), ("lsa", "flatten", 4)],
)
def test_service_reads_attention_of_vanilla_and_lsa_models(tmp_path, variant, pooling, tokens):
    from studio.attention_service import compute
    from studio.store import RunStore

    store = RunStore(tmp_path / "home")
    run = finished_run(store, variant, pooling)
    result = compute(store, run.id, _png(tmp_path))
    assert result.scores.shape == (2, 2, tokens, tokens)
    np.testing.assert_allclose(result.scores.sum(axis=-1), 1.0, rtol=1e-5)
    assert result.pixels.shape == (16, 16, 3)
    assert result.probs.shape == (3,) and result.probs.sum() == pytest.approx(1.0, rel=1e-5)
    assert result.meta["class_names"] == ["a", "b", "c"]
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
    assert values.shape == (2, 2) and values.sum() == pytest.approx(1.0)


@pytest.mark.models
def test_service_refuses_a_model_file_whose_checksum_changed(tmp_path):
    from studio.attention_service import AttentionUnavailable, compute
    from studio.store import RunStore

    store = RunStore(tmp_path / "home")
    run = finished_run(store, "vit")
    with open(store.run_dir(run.id) / "model.keras", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(AttentionUnavailable, match="does not match the checksum"):
        compute(store, run.id, _png(tmp_path))


def test_unfinished_or_modelless_runs_are_refused_before_any_model_is_loaded(tmp_path):
    from studio.attention_service import AttentionUnavailable, request
    from studio.presets import make_config
    from studio.store import RunStore

    store = RunStore(tmp_path / "home")
    queued = store.create_run(make_config("cpu-quick", "digits", "vit").to_dict())
    with pytest.raises(AttentionUnavailable, match="is queued: attention needs a finished run"):
        request(store, queued.id, b"not even an image")
    store.finish(queued.id, "completed")
    with pytest.raises(AttentionUnavailable, match="has no final model"):
        request(store, queued.id, b"x")
    (store.run_dir(queued.id) / "model.keras").write_bytes(b"zip")
    with pytest.raises(AttentionUnavailable, match="no recorded checksum"):
        request(store, queued.id, b"x")
    with pytest.raises(AttentionUnavailable, match="no run matches"):
        request(store, "9999", b"x")


def test_runs_outside_the_vit_family_are_refused_with_the_reason(tmp_path):
    from studio.attention_service import AttentionUnavailable, request
    from studio.presets import make_config
    from studio.store import RunStore

    store = RunStore(tmp_path / "home")
    finetuned = store.create_run(make_config("finetune", "digits", "vit-b16").to_dict())
    store.finish(finetuned.id, "completed")
    with pytest.raises(AttentionUnavailable, match="is a vit-b16 run: attention maps are drawn"):
        request(store, finetuned.id, b"x")


@pytest.mark.models
@pytest.mark.slow
def test_request_computes_in_a_subprocess_then_answers_from_the_cache(tmp_path):
    from studio.attention_service import image_digest, request, result_path
    from studio.store import RunStore

    store = RunStore(tmp_path / "home")
    run = finished_run(store, "spt-lsa")
    data = _png(tmp_path).read_bytes()
    first = request(store, run.id, data)
    assert first.scores.shape == (2, 2, 4, 4) and first.lsa
    cached = result_path(store, run, image_digest(data))
    assert cached.is_file() and cached.parent == store.run_dir(run.id) / "attention"
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no input left behind
    started = time.perf_counter()
    again = request(store, run.id, data)
    assert time.perf_counter() - started < 1.0
    np.testing.assert_array_equal(again.scores, first.scores)
