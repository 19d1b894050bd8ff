"""A real captioning run on the generated shapes set through the CLI: it learns to describe
the scenes (BLEU-4 on held-out scenes), and predict and evaluate read it back."""

from __future__ import annotations

import json

from studio.datasets.shapes import generate_shapes
from tests.helpers.cli import cli_process as run_cli

# Measured here: 0.33 test BLEU-4 after these 3 epochs (SPT + LSA, 1,500 training scenes,
# about a minute on 2 cores); an untrained or image-blind captioner scores near 0.
LEARNT_BLEU4 = 0.25


def test_a_caption_run_learns_the_shapes_and_the_cli_reads_it_back(studio_home, tmp_path):
    proc = run_cli(
        "train", "--task", "caption", "--dataset", "shapes", "--model", "spt-lsa",
        "--epochs", "3", "--limit", "1500",
        "--set", "data.val_fraction=0.05", "--set", "data.test_fraction=0.05", "--wait",
        env_home=studio_home,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "val_BLEU-4" in proc.stdout and "test BLEU-4" in proc.stdout

    listed = json.loads(run_cli("list", "--json", env_home=studio_home).stdout)
    run = listed[0]
    assert (run["task"], run["status"], run["epochs_done"]) == ("caption", "completed", 3)
    assert run["best_val_bleu4"] is not None
    assert run["test"]["bleu4"] >= LEARNT_BLEU4, run["test"]

    evaluated = run_cli("evaluate", run["id"], "--json", env_home=studio_home)
    report = json.loads(evaluated.stdout)
    assert report["scores"]["bleu4"] == run["test"]["bleu4"]  # the stored report, not redone

    scenes = generate_shapes(2, seed=123)
    images = []
    for i, image in enumerate(scenes.images):
        from PIL import Image

        path = tmp_path / f"scene{i}.png"
        Image.fromarray(image).save(path)
        images.append(str(path))
    predicted = run_cli("predict", run["id"], *images, "--json", env_home=studio_home)
    assert predicted.returncode == 0, predicted.stderr
    captions = [c["caption"] for c in json.loads(predicted.stdout)["captions"]]
    assert len(captions) == 2
    assert all(any(w in c for w in ("circle", "square", "triangle")) for c in captions), captions

    refused = run_cli("predict", run["id"], str(tmp_path / "missing.png"), env_home=studio_home)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
