"""Why training ended early, beyond a stop request (`studio.runs.errors.StopRequested`)."""

from studio.runs.errors import RunFailed


class NonFiniteLoss(RunFailed):
    """The loss became NaN or infinite; the message names the epoch and step."""
