"""Typed errors of the experiments library; each message says what to do next.

The fronts print any of them as one line and exit non-zero (see creative.errors.USER_ERRORS).
"""


class ExperimentError(Exception):
    """Base of every experiments error."""


class ExperimentNotFound(ExperimentError):
    """No experiment has the given id."""


class InvalidExperiment(ExperimentError):
    """An experiment definition cannot be run (too few arms, duplicates, bad config)."""


class InvalidAllocation(ExperimentError):
    """Allocation shares or policy parameters are not usable."""


class EventFileError(ExperimentError):
    """An event file cannot be opened or its format recognised (bad lines are rejected, not raised)."""


class RoundInProgress(ExperimentError):
    """Another round of the same experiment holds the round lock."""


class ExperimentConcluded(ExperimentError):
    """The experiment has promoted a winner or stopped; it runs no more rounds."""


class RoundNotFound(ExperimentError):
    """No closed round has the given number."""


class ExperimentPaused(ExperimentError):
    """The experiment is paused: serving goes on, no round closes until it resumes."""


class ExperimentArchived(ExperimentConcluded):
    """The experiment is archived: it can be read, not changed."""


class LifecycleRefused(ExperimentError):
    """A lifecycle step (pause, resume, stop, archive) does not apply to the experiment's state."""
