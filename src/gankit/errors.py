"""Typed exceptions. Each message is one line naming the field, the value and what is allowed."""


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
