"""The backend a training worker gets: KERAS_BACKEND, else JAX where only JAX drives the GPU."""

from __future__ import annotations

import pytest

from studio.runs import backend


def test_keras_backend_decides_when_set(monkeypatch):
    monkeypatch.setattr(backend, "nvidia_gpu_present", lambda: True)
    assert backend.worker_backend({"KERAS_BACKEND": "torch"}) == "torch"


@pytest.mark.parametrize(
    ("gpu", "names", "expected"),
    [
        (False, {"jax", "jax-cuda12-plugin"}, "tensorflow"),
        (True, {"jax", "tensorflow-cpu"}, "tensorflow"),  # JAX without CUDA
        (True, {"jax", "jax-cuda12-plugin", "tensorflow-cpu"}, "jax"),
        (True, {"jax", "jax-cuda12-plugin", "tensorflow", "nvidia-cudnn-cu12"}, "tensorflow"),
    ],
)
def test_a_gpu_that_only_jax_can_drive_gets_jax(monkeypatch, gpu, names, expected):
    monkeypatch.setattr(backend, "nvidia_gpu_present", lambda: gpu)
    monkeypatch.setattr(backend, "_distributions", lambda: names)
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: object())
    assert backend.worker_backend({}) == expected


def test_the_driver_listing_is_read(tmp_path):
    gpus = tmp_path / "gpus"
    gpus.mkdir()
    assert not backend.nvidia_gpu_present(gpus, tmp_path)
    (gpus / "0000:00:1e.0").mkdir()
    assert backend.nvidia_gpu_present(gpus, tmp_path)


def test_this_machine_without_keras_backend_gets_a_backend_that_is_installed(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    name = backend.worker_backend()
    assert backend.importlib.util.find_spec(name) is not None


def test_the_worker_sets_its_backend_before_importing_keras(monkeypatch):
    from studio.training.__main__ import choose_backend

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(backend, "worker_backend", lambda: "jax")
    assert choose_backend() == "jax"
    import os

    assert os.environ["KERAS_BACKEND"] == "jax"
