"""`evaluate RUN`: test-set loss, top-1, top-3 and top-5 of a run's final model."""

from __future__ import annotations

from studio.config.schema import RunConfig
from studio.inference.loading import load_run_model
from studio.runs.store import RunStore
from studio.training.compile import compile_model
from studio.training.trainer import evaluate_arrays, load_run_data


def evaluate_run(store: RunStore, run_id: str) -> dict:
    """Reload the run's model (checksum checked) and data, evaluate, record the result."""
    run = store.get(run_id)
    cfg = RunConfig.from_dict(run.config)
    model = load_run_model(store, run.id)
    compile_model(model, cfg.train, steps_per_epoch=max(run.steps_per_epoch or 1, 1))
    data = load_run_data(store, cfg)
    result = evaluate_arrays(model, data.x_test, data.y_test, len(data.class_names))
    store.update(run.id, test=result)
    return {**result, "images": len(data.y_test)}
