"""Composition errors; each says what to change. Layout errors live in layouts.errors."""

from creative.errors import CreativeError


class CompositionError(CreativeError):
    """A batch cannot be composed as asked: bad selection, output directory, or format."""
