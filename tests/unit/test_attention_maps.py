"""Attention maps: rollout and query maps (shapes, normalisation, class and distillation
tokens, LSA diagonal), mean attention distance against hand-computed cases, the "looks unlike
the run's classes" heuristic, and which runs have attention to read (the models themselves:
tests/models)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.inference.attention_maps import (
    AttentionResult,
    DistanceResult,
    cached_distance,
    class_token_share,
    diagonal_share,
    distance_cache,
    familiarity,
    head_mean,
    image_statistics,
    load_distance,
    load_result,
    mean_attention_distance,
    patch_distances,
    patch_token,
    query_maps,
    rollout,
    rollout_map,
    save_distance,
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
    with_class = rollout_map(scores, 2, prefix_tokens=1)
    np.testing.assert_allclose(with_class.ravel(), matrix[0, 1:] / matrix[0, 1:].sum())
    without = rollout_map(_random_scores(tokens=4), 2, prefix_tokens=0)
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
    maps = query_maps(scores, 2, 0, grid=3, prefix_tokens=1)
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


def test_deit_rollout_reads_the_class_or_the_distillation_token_row():
    scores = _random_scores(tokens=2 + 4)
    matrix = rollout(scores)
    for token in (0, 1):
        values = rollout_map(scores, 2, prefix_tokens=2, token=token).ravel()
        np.testing.assert_allclose(values, matrix[token, 2:] / matrix[token, 2:].sum())
    maps = query_maps(scores, 0, 1, grid=2, prefix_tokens=2)
    np.testing.assert_allclose(maps[:, :, 0, 0], scores[:, :, 3, 2])
    with pytest.raises(ValueError, match="not one of the 2 prefix tokens"):
        rollout_map(scores, 2, prefix_tokens=2, token=2)


def test_head_mean_keeps_rows_normalised():
    matrix = head_mean(_random_scores(heads=4, tokens=6), layer=1)
    assert matrix.shape == (6, 6)
    np.testing.assert_allclose(matrix.sum(axis=-1), 1.0)


# -- mean attention distance --------------------------------------------------------------------


def test_patch_distances_are_pixels_between_patch_centres():
    # A 2x2 grid of 4-px patches: neighbours 4 px apart, diagonals 4 * sqrt(2).
    d = patch_distances(2, 4)
    s = 4 * np.sqrt(2)
    np.testing.assert_allclose(d, [[0, 4, 4, s], [4, 0, s, 4], [4, s, 0, 4], [s, 4, 4, 0]])


def test_mean_attention_distance_by_hand():
    # 2x2 patches of 4 px, one layer, two heads, no class token.
    half = np.array(  # head 1: half to itself, half to its horizontal neighbour
        [[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5]]
    )
    uniform = np.full((4, 4), 0.25)  # head 2: everywhere alike
    scores = np.stack([half, uniform])[None]  # (1 layer, 2 heads, 4, 4)
    # Head 1: each query 0.5 * 0 + 0.5 * 4 = 2 px. Head 2: 0.25 * (0 + 4 + 4 + 4 sqrt 2).
    np.testing.assert_allclose(mean_attention_distance(scores, 2, 4), [[2.0, 2 + np.sqrt(2)]])


def test_mean_attention_distance_drops_prefix_tokens_and_renormalises():
    # A class token takes half of every row; the patch half goes to the diagonal neighbour
    # (3 - q) and to itself equally, so renormalised each query reaches 0.5 * 4 sqrt(2).
    scores = np.zeros((1, 1, 5, 5))
    scores[..., 0, :] = 0.2  # the class token's own row is never read
    for q in range(4):
        scores[0, 0, 1 + q, 0] = 0.5
        scores[0, 0, 1 + q, 1 + q] = 0.25
        scores[0, 0, 1 + q, 1 + (3 - q)] = 0.25
    np.testing.assert_allclose(
        mean_attention_distance(scores, 2, 4, prefix_tokens=1), [[2 * np.sqrt(2)]]
    )
    # A row that gave everything to the class token counts as distance 0, not NaN.
    scores[0, 0, 1, :] = [1, 0, 0, 0, 0]
    value = mean_attention_distance(scores, 2, 4, prefix_tokens=1)[0, 0]
    assert value == pytest.approx(3 * 2 * np.sqrt(2) / 4)


def test_mean_attention_distance_averages_a_batch_and_lsa_drops_the_zero_term():
    local = np.broadcast_to(np.eye(4), (1, 1, 4, 4))  # every patch attends to itself: 0 px
    neighbour = np.array([[[[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]]])  # 4 px
    batch = np.stack([local, neighbour])  # (images, layers, heads, T, T)
    np.testing.assert_allclose(mean_attention_distance(batch, 2, 4), [[2.0]])
    lsa = _random_scores(layers=2, heads=3, tokens=9, mask_diagonal=True)
    assert np.all(mean_attention_distance(lsa, 3, 2) >= 2.0)  # nearest other patch: 2 px
    with pytest.raises(ValueError, match="do not fill a 3x3 grid"):
        mean_attention_distance(_random_scores(tokens=10), 3, 2)


def test_distance_results_are_cached_per_model_file(studio_home, tiny, tmp_path):
    store = RunStore()
    run = store.create_run(tiny("lsa").to_dict())
    store.update(run.id, model_sha256="a" * 64)
    run = store.get(run.id)
    result = DistanceResult(
        distances=np.array([[1.0, 2.0]], np.float32),
        reference_top=np.linspace(0.5, 1.0, 8, dtype=np.float32),
        reference_stats=np.zeros((8, 3), np.float32),
        temperatures=np.array([2.8], np.float32),
        meta={"image_size": 16, "patch_size": 4, "images": 8},
    )
    assert cached_distance(store, run) is None
    save_distance(distance_cache(store, run), result)
    loaded = cached_distance(store, run)
    np.testing.assert_array_equal(loaded.distances, result.distances)
    assert loaded.meta == result.meta and loaded.temperatures.tolist() == pytest.approx([2.8])
    assert load_distance(distance_cache(store, run)).image_size == 16
    store.update(run.id, model_sha256="b" * 64)  # another model file: measured again
    assert cached_distance(store, store.get(run.id)) is None


# -- an image unlike the run's classes ------------------------------------------------------------


def test_an_image_less_sure_than_the_runs_own_test_images_is_called_unlike_them():
    names = [str(d) for d in range(10)]
    reference = np.array([0.97, 0.99, 0.91, 0.88, 0.95, 0.99, 0.93, 0.9, 0.96, 0.98])
    cat = np.full(10, 0.77 / 9)
    cat[3] = 0.23
    seen = familiarity(cat, names, reference)
    assert seen.unfamiliar and seen.top_class == "3" and seen.top_prob == pytest.approx(0.23)
    assert "looks unlike the run's classes (top class 3 at 23%)" in seen.message
    assert "less sure of it than of 100% of 10 of the run's own test images" in seen.message
    assert "heuristic" in seen.message
    digit = np.full(10, 0.01 / 9)
    digit[7] = 0.99
    assert not familiarity(digit, names, reference).unfamiliar
    assert familiarity(digit, names, reference).message == ""


def test_a_colour_photo_shown_to_a_model_of_grey_images_is_called_unlike_them():
    # The digits case: a softmax model may call a cat "1" at 85 %, as sure as of a digit, so
    # confidence alone says nothing; the pixels do: every digit is grey, the cat is not.
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (8, 16, 16, 1), dtype=np.uint8).repeat(3, axis=-1)
    reference = image_statistics(grey)
    assert reference.shape == (8, 3) and np.all(reference[:, 2] == 0)  # no colour at all
    cat = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    probs = np.full(10, 0.15 / 9)
    probs[1] = 0.85
    names = [str(d) for d in range(10)]
    seen = familiarity(probs, names, np.full(8, 0.8), cat, reference)
    assert seen.unfamiliar and "(top class 1 at 85%)" in seen.message
    assert "its pixels are unlike all 8 of the run's test images" in seen.message
    assert "colourfulness 0." in seen.message and "(theirs 0.00–0.00)" in seen.message
    assert "less sure" not in seen.message  # the confidence heuristic did not fire
    assert not familiarity(probs, names, np.full(8, 0.8), grey[0], reference).unfamiliar
    # Hand-computed statistics: a half-grey image, and one pure red pixel among black ones.
    np.testing.assert_allclose(image_statistics(np.full((2, 2, 3), 51, np.uint8)), [0.2, 0, 0])
    red = np.zeros((2, 2, 3), np.uint8)
    red[0, 0, 0] = 255
    np.testing.assert_allclose(
        image_statistics(red), [1 / 12, np.std([1 / 3, 0, 0, 0]), 0.25], rtol=1e-9
    )


def test_without_reference_images_a_top_class_under_half_is_called_unlike():
    seen = familiarity(np.array([0.4, 0.35, 0.25]), ["a", "b", "c"])
    assert seen.unfamiliar and "top class a at 40%" in seen.message
    assert "no class even half" in seen.message
    assert not familiarity(np.array([0.6, 0.3, 0.1]), ["a", "b", "c"]).unfamiliar


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
    maps = query_maps(result.scores, 1, 2, result.grid, result.prefix_tokens)
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


def test_every_variant_has_readable_attention_and_unknown_ones_are_refused(studio_home, tiny):
    store = RunStore()
    for variant in ("vit", "spt", "lsa", "spt-lsa", "deit", "vit-b16"):
        check_ability(store.create_run(tiny(variant).to_dict()), "attention_maps")
    run = store.create_run({**tiny("vit").to_dict(), "model": {"variant": "mystery"}})
    with pytest.raises(ModelUnavailable) as err:
        check_ability(run, "attention_maps")
    assert "attention maps are drawn for the Vanilla ViT" in str(err.value)
    assert "DeiT and ViT-B/16 runs only" in str(err.value)
