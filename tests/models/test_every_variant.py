"""Every row of the variant table, through the studio's own path: its builder, one training
step, saved as a run's model, loaded back the way the demo loads it, and asked to predict.

Adding a variant adds a case here by itself; a variant that distils gets a teacher, and one
that starts from a pretrained preset gets a tiny local preset (nothing here downloads).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from studio.config import VARIANTS
from studio.inference.loading import load_model
from studio.inference.predict import predict_probs
from studio.models.build import ModelInputs, build_model
from studio.runs import artifacts
from studio.runs.store import RunStore
from studio.training.compile import compile_model
from tests.helpers.tiny import MEAN, VARIANCE, tiny_config, tiny_vit_preset

CLASSES, SIZE = 3, 16
INPUTS = ModelInputs(CLASSES, (SIZE, SIZE, 3), MEAN, VARIANCE)


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    pytest.importorskip("keras_hub")
    return tiny_vit_preset(tmp_path_factory.mktemp("preset"))


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (8, SIZE, SIZE, 3)).astype("float32")
    return images, np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, 8)]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_variant_builds_trains_a_step_saves_reloads_and_predicts(name, studio_home, request):
    variant = VARIANTS[name]
    overrides = {}
    if variant.pretrained:
        overrides["model.pretrained"] = request.getfixturevalue("preset")
    cfg = tiny_config(name, **overrides)
    keras.utils.set_random_seed(0)
    model = build_model(cfg, INPUTS)
    compile_model(model, cfg.train, steps_per_epoch=1)
    if variant.distills:
        model.attach_teacher(build_model(tiny_config("vit"), INPUTS), SIZE)
    images, labels = _batch()
    logs = model.train_on_batch(images, labels, return_dict=True)
    assert np.isfinite(logs["loss"]), logs

    # Saved as the trainer saves a run's final model, loaded as the demo and the CLI load it.
    store = RunStore()
    run = store.create_run(cfg.to_dict())
    folder = store.run_dir(run.id)
    model.save(folder / artifacts.FINAL_MODEL)
    names = tuple(f"class {i}" for i in range(CLASSES))
    artifacts.write_labels(folder, artifacts.Labels(names, SIZE, "digits"))
    store.update(run.id, model_sha256=artifacts.sha256_file(folder / artifacts.FINAL_MODEL))
    store.finish(run.id, "completed")
    loaded = load_model(artifacts.model_info(store, run.id))

    pixels = _batch(seed=1)[0].astype("uint8")
    probs = predict_probs(loaded, pixels)
    assert probs.shape == (8, CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs, predict_probs(model, pixels), rtol=1e-4, atol=1e-6)
