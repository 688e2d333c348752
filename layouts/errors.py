"""Typed layout errors; each message names the template, slot or size and what to change."""



class LayoutError(Exception):
    """A layout cannot be solved or used; the creative is rejected with this reason."""


class TemplateError(LayoutError):
    """A template file is malformed: unknown slot, box outside the canvas, hard slots that overlap."""


class SizeError(LayoutError):
    """A requested ad size cannot be parsed or is outside the supported range."""


class TextDoesNotFit(LayoutError):
    """Text cannot fit its box at or above the minimum size; never truncated, always rejected."""
