"""Typed errors of the web front; messages are shown to the user as they are."""

from creative.errors import CreativeError


class WebError(CreativeError):
    """Base of the web front's errors."""


class UserExists(WebError):
    """A user with that name already exists."""


class UserNotFound(WebError):
    """No user has that name."""


class WeakPassword(WebError):
    """A password too short to protect an admin account."""


class BadToken(WebError):
    """An impression token that was not signed by this server, or was altered."""


class UnknownRole(WebError):
    """A role name that is not one of auth.ROLES."""


class UnknownScope(WebError):
    """An API key scope that does not exist, or that the key's owner's role does not grant."""
