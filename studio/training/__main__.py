"""`python -m studio.training RUN_ID`: the detached process that trains one run.

The life of the process (register, heartbeat, queue slot, end status) is
`studio.runs.worker`'s; this binds it to the trainer.
"""

from __future__ import annotations

import sys

from studio.runs.store import RunStore
from studio.runs.worker import run_worker


def _train(store: RunStore, run_id: str) -> None:
    # Imported once the run holds a slot: a queued worker holds no TensorFlow runtime.
    from studio.training.trainer import train_run

    train_run(store, run_id)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m studio.training RUN_ID", file=sys.stderr)
        return 2
    return run_worker(args[0], _train)


if __name__ == "__main__":
    sys.exit(main())
