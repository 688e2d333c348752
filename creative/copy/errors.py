"""Errors of copy generation; each message says what to do next."""

from creative.errors import CreativeError


class CopyError(CreativeError):
    """Copy cannot be generated with the given arguments."""


class ModelLoadError(CopyError):
    """The language model cannot be found, converted or loaded."""
