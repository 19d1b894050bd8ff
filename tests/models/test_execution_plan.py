"""How steps execute: compiled on JAX even with Keras' image augmentation layers (which
decline XLA for TensorFlow's sake), graph mode on TensorFlow, and the run's info says which."""

from __future__ import annotations

import keras
import numpy as np

from studio.models.build import ModelInputs, build_model
from studio.training.compile import compile_model
from studio.training.fitting import describe_run_device
from studio.training.speed import execution_plan
from tests.helpers.tiny import MEAN, VARIANCE, tiny_config

AUGMENTED = {"augment.rotation": "0.05", "augment.zoom": "0.1", "augment.rand_augment": "true"}


def test_the_plan_compiles_on_jax_and_not_on_tensorflow():
    cfg = tiny_config("spt-lsa", **AUGMENTED)
    model = build_model(cfg, ModelInputs(3, (16, 16, 3), MEAN, VARIANCE))
    plan = execution_plan()
    compile_model(model, cfg.train, 1, plan)
    on_jax = keras.backend.backend() == "jax"
    assert plan.jit_compile is on_jax
    assert model.jit_compile is on_jax
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    labels = np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    logs = model.fit(images, labels, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])
    assert describe_run_device(model, plan).endswith("XLA" if on_jax else "no XLA")
