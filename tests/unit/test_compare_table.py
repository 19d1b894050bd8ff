"""The Compare section's tables: config diff by dotted field, summary rows with the noise band."""

from __future__ import annotations

import pytest

from studio.config.diff import config_diff, flatten
from studio.runs.store import RunStore
from studio.ui.compare_table import (
    Compared,
    compared_runs,
    diff_rows,
    images_per_s,
    summary_rows,
)
from tests.helpers.finished_run import finished_run


def test_flatten_names_fields_as_set_does():
    flat = flatten({"train": {"epochs": 3}, "model": {"mlp_units": (128, 64)}, "preset": "p"})
    assert flat == {"train.epochs": 3, "model.mlp_units": [128, 64], "preset": "p"}


def test_config_diff_lists_only_fields_that_differ_with_each_value():
    a = {"train": {"epochs": 3, "seed": 1}, "model": {"depth": 4}}
    b = {"train": {"epochs": 5, "seed": 1}, "model": {"depth": 4}}
    c = {"train": {"epochs": 3, "seed": 1}, "model": {"depth": 4}, "distill": {"kind": "soft"}}
    assert config_diff([a, b]) == [("train.epochs", [3, 5])]
    assert config_diff([a, a]) == []
    # A field an older run's config lacks reads as None rather than hiding the difference.
    assert config_diff([a, c]) == [("distill.kind", [None, "soft"])]


@pytest.fixture
def two_runs(tmp_path):
    store = RunStore(tmp_path)
    a, _ = finished_run(store, seed=0)
    b, _ = finished_run(store, seed=1, overrides={"train.learning_rate": "0.001"})
    return store, a, b


def test_diff_rows_show_the_one_field_that_differs(two_runs):
    _, a, b = two_runs
    rows = diff_rows([a, b])
    assert len(rows) == 1
    (row,) = rows
    assert row["Field"] == "train.learning_rate"
    assert sorted(row.values()) == sorted(["train.learning_rate", "0.002", "0.001"])


def test_summary_compares_to_the_first_with_the_noise_band(two_runs):
    store, a, b = two_runs
    rows = summary_rows(compared_runs(store, [a, b]))
    assert rows[0]["Run"].startswith(f"#{a.seq} ") and rows[1]["Run"].startswith(f"#{b.seq} ")
    assert rows[0]["Δ test vs first"] == "(reference)"
    assert rows[0]["Best val acc"] == "76.0 %" and rows[1]["Δ val vs first"] == "+0.0 pts"
    delta = rows[1]["Δ test vs first"]
    assert delta.endswith(")") and ("within noise" in delta or "beyond noise" in delta)
    assert rows[0]["Images/s"] == "300" and rows[0]["Duration"] == "1m01s"


def test_summary_without_reports_or_epochs_shows_dashes(two_runs):
    _, a, b = two_runs
    rows = summary_rows([Compared(a, []), Compared(b, [], None)])
    assert rows[1]["Best val acc"] == "—" and rows[1]["Δ val vs first"] == "—"
    # Both runs hold a test result in the store: a plain difference, no noise claim.
    assert rows[1]["Δ test vs first"].endswith("pts, noise unknown")
    assert rows[1]["Images/s"] == "—"


def test_images_per_s_leaves_out_the_tracing_epoch():
    rows = [{"epoch": 1, "images_per_s": 10.0}, {"epoch": 2, "images_per_s": 300.0}]
    assert images_per_s(rows) == 300.0
    assert images_per_s(rows[:1]) == 10.0
    assert images_per_s([{"epoch": 2, "images_per_s": float("nan")}]) is None
