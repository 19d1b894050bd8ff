"""Why a training run ended early; the worker turns these into statuses and reasons."""


class StopRequested(Exception):
    """The user asked the run to stop; raised at a batch boundary."""


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and step."""


class PretrainedUnavailable(RuntimeError):
    """Pretrained weights could not be loaded; the message says how to provide them offline."""
