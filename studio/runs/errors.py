"""How a run ends early, in words the worker records as its status and reason."""


class StopRequested(Exception):
    """The user asked the run to stop; raised at a batch boundary."""


class RunFailed(RuntimeError):
    """The run cannot go on; the message is the reason people read (no traceback needed)."""


class OutOfMemory(RunFailed):
    """Memory ran out (the worker's guard saw it running low); the message says how low."""
