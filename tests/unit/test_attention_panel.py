"""The Patches page with a finished run picked, without keras: the attention and distance files
are written beforehand (as the inference worker caches them), so no worker starts. The shifted
views follow the run's sizes, DeiT's two tokens are drawn side by side, a cat shown to a digits
model is called unlike its classes, and a second run overlays its attention distance."""

from __future__ import annotations

import numpy as np
import pytest

from studio.inference.attention_maps import (
    AttentionResult,
    DistanceResult,
    distance_cache,
    image_sha256,
    image_statistics,
    save_distance,
    save_result,
)
from studio.runs import artifacts
from studio.runs.store import RunStore
from studio.ui import attention_figures as af
from studio.ui import patch_figures as pf
from studio.ui.image_sources import sample_paths
from tests.conftest import REPO

DIGITS = [str(d) for d in range(10)]


def _scores(layers, heads, tokens, seed=0):
    logits = np.random.default_rng(seed).normal(size=(layers, heads, tokens, tokens))
    scores = np.exp(logits)
    return (scores / scores.sum(axis=-1, keepdims=True)).astype(np.float32)


def _finished(store, tiny, variant, **overrides):
    """A completed run whose 'model' is never loaded: its attention files are all there is."""
    cfg = tiny(variant, **overrides).to_dict()
    run = store.create_run(cfg)
    folder = store.run_dir(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / artifacts.FINAL_MODEL).write_bytes(f"stand-in {run.id}".encode())
    artifacts.write_labels(folder, artifacts.Labels(tuple(DIGITS), 32, "digits"))
    store.update(
        run.id,
        status="completed",
        model_sha256=artifacts.sha256_file(folder / artifacts.FINAL_MODEL),
    )
    return store.get(run.id)


def _cache(store, run, image: bytes, probs, prefix_names, distances):
    m = run.config["model"]
    grid = int(m["image_size"]) // int(m["patch_size"])
    tokens = len(prefix_names) + grid * grid
    result = AttentionResult(
        scores=_scores(int(m["depth"]), int(m["num_heads"]), tokens),
        pixels=np.zeros((32, 32, 3), np.uint8),
        probs=np.asarray(probs, np.float32),
        temperatures=None,
        meta={
            "image_size": int(m["image_size"]),
            "patch_size": int(m["patch_size"]),
            "pooling": m["pooling"],
            "prefix_tokens": len(prefix_names),
            "prefix_names": list(prefix_names),
            "key_dim": 8,
            "input_size": 32,
            "class_names": DIGITS,
        },
    )
    save_result(artifacts.attention_cache(store, run, image_sha256(image)), result)
    distance = DistanceResult(
        distances=np.asarray(distances, np.float32),
        reference_top=np.linspace(0.8, 1.0, 32, dtype=np.float32),
        # Pixels like the shown image's: only the confidence heuristic may fire here.
        reference_stats=np.tile(image_statistics(result.pixels), (32, 1)),
        temperatures=None,
        meta={
            "image_size": int(m["image_size"]),
            "patch_size": int(m["patch_size"]),
            "images": 32,
            "source": "test images of digits",
        },
    )
    save_distance(distance_cache(store, run), distance)


def test_run_sizes_come_from_the_runs_config():
    assert pf.run_sizes({"model": {"image_size": 32, "patch_size": 4}}) == (32, 4)
    assert pf.run_sizes({"model": {"image_size": 224, "patch_size": 16}}) == (224, 16)
    assert pf.run_sizes({"model": {"image_size": 30, "patch_size": 4}}) is None
    assert pf.run_sizes({}) is None


def test_distance_figure_one_run_two_runs_and_different_sizes():
    def result(values, size):
        meta = {"image_size": size, "patch_size": 4}
        return DistanceResult(np.asarray(values, float), np.ones(8), None, None, meta)

    one = af.distance_figure([("#1 ViT", result([[4.0, 6.0], [8.0, 10.0]], 32))])
    dots, line = one.data
    assert list(dots.y) == [4.0, 6.0, 8.0, 10.0] and list(dots.x) == [1, 1, 2, 2]
    assert list(line.y) == [5.0, 9.0] and "(px)" in one.layout.yaxis.title.text
    two = af.distance_figure(
        [("#1 ViT", result([[4.0, 6.0]], 32)), ("#2 LSA", result([[16.0, 32.0]], 64))]
    )
    assert len(two.data) == 4 and "share of image side" in two.layout.yaxis.title.text
    assert list(two.data[2].y) == pytest.approx([0.25, 0.5])  # 16 px of 64, 32 px of 64
    rows = af.temperature_rows(np.array([2.5, 3.0]), 8)
    assert rows[0]["layer"] == 1 and rows[0]["start √8"] == pytest.approx(2.8284, abs=1e-4)
    assert rows[0]["change"] == "-11.6%"


def test_deit_rollout_draws_both_tokens_side_by_side():
    result = AttentionResult(
        scores=_scores(2, 2, 18),
        pixels=np.zeros((32, 32, 3), np.uint8),
        probs=np.full(10, 0.1, np.float32),
        temperatures=None,
        meta={"image_size": 16, "patch_size": 4, "prefix_tokens": 2},
    )
    fig = af.rollout_figure(result, (1, 1))
    titles = [a.text for a in fig.layout.annotations]
    assert "Rollout from the class token" in titles
    assert "Rollout from the distillation token" in titles
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 4 and len({t.zmax for t in heatmaps}) == 1  # one colour range
    matrix = af.matrix_figure(result, 0)
    assert list(matrix.data[0].customdata[:3, 0]) == ["class", "distillation", "patch 0"]


def test_picking_a_run_sizes_the_views_warns_on_a_cat_and_overlays_a_second_run(studio_home, tiny):
    from streamlit.testing.v1 import AppTest

    store = RunStore()
    cat = sample_paths()[0].read_bytes()  # the page's first sample: chelsea-cat.jpg
    assert sample_paths()[0].name == "chelsea-cat.jpg"
    deit = _finished(store, tiny, "deit", **{"model.depth": "2"})
    cat_probs = np.full(10, 0.77 / 9)
    cat_probs[3] = 0.23
    _cache(store, deit, cat, cat_probs, ["class", "distillation"], [[5.0, 6.0], [7.0, 8.0]])
    vit = _finished(store, tiny, "vit", **{"model.image_size": "32", "model.patch_size": "8"})
    _cache(store, vit, cat, np.eye(10)[7], [], [[9.0]])

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page("pages/patches.py").run()
    assert at.number_input(key="patches_image_size").value == 72
    at.selectbox(key="patches_run").set_value(deit.id).run()
    assert not at.exception, [e.value for e in at.exception]
    # The next script run sizes the views like the run's model: 16 px, patch 4.
    at.run()
    assert at.number_input(key="patches_image_size").value == 16
    assert at.number_input(key="patches_patch_size").value == 4
    captions = " ".join(c.value for c in at.caption)
    assert "4 × 4 = 16 patches of 4 px" in captions
    assert f"Sizes of run #{deit.seq} (deit)" in captions
    warnings = " ".join(w.value for w in at.warning)
    assert "looks unlike the run's classes (top class 3 at 23%)" in warnings
    assert "heuristic" in warnings
    assert "distillation token's" in captions
    assert not at.error, [e.value for e in at.error]

    at.selectbox(key="patches_compare_run").set_value(vit.id).run()
    assert not at.exception and not at.error
    assert any("Measured on" in c.value and "#" in c.value for c in at.caption)

    # Another run resizes them again; the inputs stay editable in between.
    at.number_input(key="patches_patch_size").set_value(2).run()
    assert at.number_input(key="patches_patch_size").value == 2
    at.selectbox(key="patches_run").set_value(vit.id).run()
    at.run()
    assert at.number_input(key="patches_image_size").value == 32
    assert at.number_input(key="patches_patch_size").value == 8
    assert not at.warning  # a confident prediction is not flagged
