"""Typed exceptions. Each message is one line naming the field, the value and what is allowed."""


def first_line(e: BaseException) -> str:
    """The first line of ``e``'s message (surrounding blanks dropped), or its type's name when it has none."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


class GankitError(Exception):
    """Base class of every error gankit raises on purpose (bad input, missing data, ...)."""


class ConfigError(GankitError, ValueError):
    """A config key, type or value is wrong."""


class DatasetError(GankitError):
    """A dataset is missing, malformed or cannot be read."""


class CheckpointError(GankitError):
    """A checkpoint is missing, malformed or does not match the run."""


class RunDirError(GankitError):
    """A run folder cannot be created, written or resumed."""


class MetricError(GankitError, ValueError):
    """A metric cannot be computed as asked (too few samples, missing weights, mismatched shapes)."""


class TrainingInterrupted(GankitError):
    """Training stopped on SIGINT/SIGTERM after writing a checkpoint; ``exit_code`` is 128 + the signal number."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(GankitError):
    """Losses or weights became NaN/Inf and the divergence policy stopped (or gave up rolling back)."""
