"""Attention maps: rollout and query maps (shapes, normalisation, class token, LSA diagonal),
and which runs have attention to read (the models themselves: tests/models)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.inference.attention_maps import (
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
from studio.runs.artifacts import ModelUnavailable, check_ability, model_info
from studio.runs.store import RunStore


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


# -- which runs have readable attention (no model loaded) ---------------------------------


def test_unfinished_modelless_and_unknown_runs_are_refused_without_a_model(studio_home, tiny):
    store = RunStore()
    queued = store.create_run(tiny("vit").to_dict())
    with pytest.raises(ModelUnavailable, match="is queued; only completed runs"):
        model_info(store, queued.id)
    store.finish(queued.id, "completed")
    with pytest.raises(ModelUnavailable, match="no recorded checksum"):
        model_info(store, queued.id)
    store.update(queued.id, model_sha256="0" * 64)
    with pytest.raises(ModelUnavailable, match="has no final model"):
        model_info(store, queued.id)
    with pytest.raises(ModelUnavailable, match="no run matches"):
        model_info(store, "9999")


@pytest.mark.parametrize("variant", ["deit", "vit-b16"])
def test_variants_without_readable_attention_are_refused_with_those_that_have_it(
    studio_home, tiny, variant
):
    store = RunStore()
    run = store.create_run(tiny(variant).to_dict())
    with pytest.raises(ModelUnavailable) as err:
        check_ability(run, "attention_maps")
    assert f"is a {variant} run: attention maps are drawn for the Vanilla ViT" in str(err.value)
    assert "ViT + SPT + LSA runs only" in str(err.value)
