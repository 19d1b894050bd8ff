"""`python -m studio.training RUN_ID`: the detached process that trains one run.
`python -m studio.training --spare [--after RUN_ID]`: the warm spare that waits for one.

The life of the process (register, heartbeat, queue slot, end status) is
`studio.runs.worker`'s, the spare's (spool, hand-off, idle exit) `studio.runs.spare`'s; this
binds them to the trainer.
"""

from __future__ import annotations

import os
import sys

from studio.runs import backend, phases, spare
from studio.runs.paths import jax_cache_dir, studio_home
from studio.runs.store import RunStore
from studio.runs.worker import run_worker

USAGE = "usage: python -m studio.training RUN_ID | --spare [--after RUN_ID]"

# JAX caches a compiled program only if compiling it took at least this long (seconds).
JAX_CACHE_MIN_COMPILE_S = 0.5


def _use_compilation_cache() -> None:
    """On JAX, keep compiled train steps on disk (STUDIO_HOME/cache/jax): a run of an
    architecture trained before skips XLA's compilation. TensorFlow has no such cache."""
    import keras

    if keras.backend.backend() != "jax":
        return
    import jax

    path = jax_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", JAX_CACHE_MIN_COMPILE_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def choose_backend() -> str:
    """Set KERAS_BACKEND for this process before keras is imported: the user's choice, else
    JAX where only JAX can drive the machine's GPU (`studio.runs.backend`). Decided here,
    not by the launcher, so a spare and a cold worker decide alike."""
    os.environ["KERAS_BACKEND"] = backend.worker_backend()
    return os.environ["KERAS_BACKEND"]


def _import_framework() -> None:
    choose_backend()
    # The trainer imports keras, its backend and every studio module a run needs.
    import studio.training.trainer  # noqa: F401

    _use_compilation_cache()


# Tests only: cap this worker's address space at what it uses once the framework is
# imported plus this many MiB, so that running out of memory is real, not simulated.
TEST_MEMORY_ENV = "STUDIO_TEST_MEMORY_HEADROOM_MB"


def _test_memory_cap() -> None:
    headroom = os.environ.get(TEST_MEMORY_ENV)
    if not headroom:
        return
    import resource

    import psutil

    used = psutil.Process().memory_info().vms
    resource.setrlimit(resource.RLIMIT_AS, (used + int(headroom) * 2**20, resource.RLIM_INFINITY))


def _train(store: RunStore, run_id: str) -> str | None:
    # Imported once the run holds a slot: a queued worker holds no TensorFlow runtime (a
    # warm spare has imported it already, and is handed only runs that may start at once).
    _import_framework()
    from studio.training.trainer import train_run

    phases.mark("framework-imported")
    _test_memory_cap()
    return train_run(store, run_id)


def _take(run_id: str) -> int:
    return run_worker(run_id, _train)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--spare"]:
        if args[1:] and (len(args) != 3 or args[1] != "--after"):
            print(USAGE, file=sys.stderr)
            return 2
        return spare.serve(
            studio_home(), _import_framework, _take, after=args[2] if args[1:] else None
        )
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    phases.mark("python-up")  # the interpreter and the studio's keras-free modules
    return _take(args[0])


if __name__ == "__main__":
    sys.exit(main())
