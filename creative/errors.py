"""Typed errors whose messages a user can act on; the CLI prints them as one line."""

from experiments.errors import ExperimentError
from layouts.errors import LayoutError


class CreativeError(Exception):
    """Base of every error the CLI turns into a one-line message and a non-zero exit."""


class ElementRejected(CreativeError):
    """An uploaded file is not a usable element."""


class ElementNotFound(CreativeError):
    """No element has the given code."""


class ElementInUse(CreativeError):
    """An element running (or paused) experiments are made of: removing it would strand their next generation."""


class CatalogRejected(CreativeError):
    """A catalog file has a bad row or column; nothing from it was imported."""


class ProductNotFound(CreativeError):
    """No product has the given id."""


class BrandKitRejected(CreativeError):
    """A brand kit has a bad colour, font or word list; nothing from it was stored."""


class BrandKitNotFound(CreativeError):
    """No brand kit has the given brand name."""


class ConfigError(CreativeError):
    """The home directory or database URL cannot be used."""


class StorageFull(CreativeError):
    """The disk or the database has no room left; nothing from the operation was kept."""


USER_ERRORS: tuple[type[Exception], ...] = (CreativeError, LayoutError, ExperimentError)
"""Every library's base error: the fronts show these as one line (CLI exit 1, HTTP 400), never a traceback."""
