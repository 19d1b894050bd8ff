"""A real run on `digits` through the CLI: train --wait, list, show, evaluate, delete."""

from __future__ import annotations

import json

import pytest

from studio.runs.store import RunStore
from tests.helpers.cli import cli_process as run_cli


def test_digits_run_end_to_end(studio_home):
    proc = run_cli(
        "train", "--dataset", "digits", "--model", "spt-lsa", "--epochs", "3",
        "--batch-size", "64", "--limit", "400", "--wait",
        env_home=studio_home,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "epoch 3/3" in proc.stdout and "completed" in proc.stdout

    listed = json.loads(run_cli("list", "--json", env_home=studio_home).stdout)
    assert len(listed) == 1
    run = listed[0]
    assert run["status"] == "completed" and run["epochs_done"] == 3
    assert run["best_val_accuracy"] is not None and run["test"]["accuracy"] > 0.1

    shown = json.loads(run_cli("show", run["id"], "--json", env_home=studio_home).stdout)
    folder = studio_home / "runs" / run["id"]
    assert shown["run_dir"] == str(folder)
    for name in ("config.json", "model.keras", "checkpoint.keras", "labels.json", "worker.log",
                 "evaluation.json", "mistakes.npz"):  # fmt: skip
        assert (folder / name).exists(), name
    assert any((folder / "tensorboard").rglob("events.out.tfevents.*"))

    # One row per epoch with everything the issue lists, whatever else the model compiled
    # (top-3), and a learning rate that moves.
    rows = RunStore(studio_home).metrics(run["id"], kind="epoch")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for r in rows:
        for col in ("loss", "accuracy", "top3", "top5", "val_loss", "val_accuracy", "val_top3",
                    "val_top5", "lr", "images_per_s", "epoch_seconds"):  # fmt: skip
            assert r[col] is not None, col
    assert len({r["lr"] for r in rows}) == 3

    evaluated = run_cli("evaluate", run["id"], "--json", env_home=studio_home)
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["accuracy"] == pytest.approx(run["test"]["accuracy"], abs=1e-6)
    assert 0.0 <= result["accuracy"] <= result["top5"] <= 1.0
    # The report the worker stored when the run ended: the whole test split, by class.
    counts = json.loads((folder / "dataset_report.json").read_text())["class_counts"]["test"]
    assert result["images"] == sum(counts.values()) == sum(map(sum, result["confusion"]))
    assert len(result["per_class"]) == 10 and len(result["confusion"]) == 10
    assert {"precision", "recall", "f1", "support"} <= set(result["per_class"][0])
    assert sum(r["support"] for r in result["per_class"]) == result["images"]
    assert 0.0 <= result["calibration"]["ece"] <= 1.0

    # Predicting again gives the same figures, and --csv writes the per-class table.
    table = studio_home / "per-class.csv"
    again = run_cli(
        "evaluate", run["id"], "--recompute", "--csv", str(table), "--json", env_home=studio_home
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["confusion"] == result["confusion"]
    assert table.read_text().splitlines()[0] == "class,precision,recall,f1,support"
    assert len(table.read_text().splitlines()) == 11
    text = run_cli("evaluate", run["id"], env_home=studio_home).stdout
    assert "most confused" in text and "calibration" in text

    assert run_cli("delete", run["id"], env_home=studio_home).returncode == 0
    assert not folder.exists()
    assert json.loads(run_cli("list", "--json", env_home=studio_home).stdout) == []
