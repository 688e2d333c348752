"""Users, roles, passwords, scoped API keys and the signing secret.

A role is a set of scopes (what a person may change); an API key carries the scopes chosen when it
was made, never more than its owner's role allows, and acts only within both. Reading pages needs
no scope. Passwords are hashed with scrypt (stdlib, memory-hard); API keys are 256-bit random
secrets, so a plain SHA-256 of them is enough to store. Each user has a session version: a session
cookie names the version it was issued under, and bumping it (logout, password change, disabling)
ends every session at once. The secret that signs session cookies and impression tokens lives in
the database, so every server process on the same database agrees on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from creative.web import tables as t
from creative.web.errors import UnknownRole, UnknownScope, UserExists, UserNotFound, WeakPassword

# What each role may change; "admin" may change everything and manage users.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "designer": frozenset({"elements:write"}),
    "marketer": frozenset({"catalog:write", "copy:write", "batches:write", "experiments:write"}),
    "operator": frozenset({"schedules:write", "rounds:write", "lifecycle:write", "events:write"}),
}
SCOPES: tuple[str, ...] = tuple(sorted(set().union(*ROLE_SCOPES.values())))
ROLE_SCOPES["admin"] = frozenset(SCOPES)
ROLES: tuple[str, ...] = tuple(ROLE_SCOPES)
MIN_PASSWORD_LENGTH = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
API_KEY_PREFIX = "ck_"


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    role: str
    session_version: int = 0
    disabled: bool = False

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES.get(self.role, frozenset())


@dataclass(frozen=True)
class KeyHolder:
    """The user an API key belongs to and the scopes the key was made with."""

    user: User
    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes and scope in self.user.scopes


def roles_with(scope: str) -> list[str]:
    """The roles that grant `scope`, for messages that say which role is needed."""
    return [role for role, scopes in ROLE_SCOPES.items() if scope in scopes]


def _user(row) -> User:
    return User(row.user_id, row.username, row.role, row.session_version, bool(row.disabled))


def _check_role(role: str) -> None:
    if role not in ROLE_SCOPES:
        raise UnknownRole(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(scopes)
    unknown = sorted(chosen - set(SCOPES))
    if unknown or not chosen:
        raise UnknownScope(f"scope {', '.join(unknown) or '(none)'} is unknown; choose from {', '.join(SCOPES)}")
    return chosen


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32, maxmem=64 * 1024 * 1024)
    return hmac.compare_digest(got, _unb64(digest))


# A fixed hash to spend the same time on unknown user names as on known ones.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_user(engine: Engine, username: str, password: str, role: str = "admin") -> User:
    if not _USERNAME.match(username):
        raise UserNotFound(f"user name {username!r} is not usable; use 1-100 letters, digits, '.', '_', '@' or '-'")
    _check_role(role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}")
    try:
        with engine.begin() as conn:
            user_id = conn.execute(insert(t.users).values(
                username=username, password_hash=hash_password(password), role=role, disabled=False, session_version=0,
                created_at=_now())).inserted_primary_key[0]
    except IntegrityError:
        raise UserExists(f"user {username!r} already exists; pick another name or reset the password with `creative users set-password`") from None
    return User(int(user_id), username, role)


def _change_user(engine: Engine, username: str, *, end_sessions: bool, **values) -> User:
    """Update one user by name; `end_sessions` bumps the session version so every cookie issued so far stops working."""
    if end_sessions:
        values["session_version"] = t.users.c.session_version + 1
    with engine.begin() as conn:
        done = conn.execute(update(t.users).where(t.users.c.username == username).values(**values)).rowcount
        row = conn.execute(select(t.users).where(t.users.c.username == username)).first()
    if not done or row is None:
        raise UserNotFound(f"no user {username!r}; list them with `creative users list`")
    return _user(row)


def set_password(engine: Engine, username: str, password: str) -> User:
    """A new password; sessions opened with the old one end."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}")
    return _change_user(engine, username, end_sessions=True, password_hash=hash_password(password))


def set_role(engine: Engine, username: str, role: str) -> User:
    """Takes effect on the user's next request (roles are read per request); sessions stay open."""
    _check_role(role)
    return _change_user(engine, username, end_sessions=False, role=role)


def set_disabled(engine: Engine, username: str, disabled: bool) -> User:
    """A disabled user can't log in, and their sessions and API keys stop working at once."""
    return _change_user(engine, username, end_sessions=disabled, disabled=disabled)


def end_sessions(engine: Engine, user_id: int) -> None:
    """Log the user out everywhere: every session cookie issued so far stops working."""
    with engine.begin() as conn:
        conn.execute(update(t.users).where(t.users.c.user_id == user_id).values(session_version=t.users.c.session_version + 1))


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(t.users).order_by(t.users.c.user_id))]


def session_user(engine: Engine, user_id: int, session_version: int) -> User | None:
    """The user of a session cookie, unless they were disabled or the session was ended since it was issued."""
    with engine.connect() as conn:
        row = conn.execute(select(t.users).where(t.users.c.user_id == user_id, t.users.c.disabled.is_(False),
                                                 t.users.c.session_version == session_version)).first()
    return _user(row) if row else None


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(t.users).where(t.users.c.username == username)).first()
    if row is None or row.disabled:
        verify_password(password, _DUMMY_HASH)
        return None
    return _user(row) if verify_password(password, row.password_hash) else None


def create_api_key(engine: Engine, username: str, label: str = "", scopes: Iterable[str] | None = None) -> str:
    """A new key for `username` acting within `scopes` (None: all its owner's role allows), returned once in full;
    only its hash is stored."""
    with engine.begin() as conn:
        row = conn.execute(select(t.users).where(t.users.c.username == username)).first()
        if row is None:
            raise UserNotFound(f"no user {username!r}; create one with `creative users create`")
        owner = _user(row)
        chosen = owner.scopes if scopes is None else check_scopes(scopes)
        if beyond := sorted(chosen - owner.scopes):
            raise UnknownScope(f"{username} is a {owner.role}, so a key of theirs can't have {', '.join(beyond)}; "
                               f"choose from {', '.join(sorted(owner.scopes))} or change the role with `creative users set-role`")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        conn.execute(insert(t.api_keys).values(key_id=key_id, user_id=row.user_id, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                                               label=label[:200], scopes=sorted(chosen), revoked=False, created_at=_now()))
    return f"{API_KEY_PREFIX}{key_id}_{secret}"


def revoke_api_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(update(t.api_keys).where(t.api_keys.c.key_id == key_id).values(revoked=True)).rowcount)


def key_holder(engine: Engine, key: str) -> KeyHolder | None:
    """Who an API key acts for and within which scopes; None when it is unknown, revoked or its owner disabled."""
    if not key.startswith(API_KEY_PREFIX) or "_" not in key[len(API_KEY_PREFIX):]:
        return None
    key_id, _, secret = key[len(API_KEY_PREFIX):].partition("_")
    with engine.connect() as conn:
        row = conn.execute(select(t.api_keys.c.secret_sha256, t.api_keys.c.revoked, t.api_keys.c.scopes, t.users)
                           .join(t.users, t.users.c.user_id == t.api_keys.c.user_id).where(t.api_keys.c.key_id == key_id)).first()
    if row is None or row.revoked or row.disabled:
        return None
    if not hmac.compare_digest(row.secret_sha256, hashlib.sha256(secret.encode()).hexdigest()):
        return None
    return KeyHolder(_user(row), key_id, frozenset(row.scopes))


def signing_secret(engine: Engine) -> bytes:
    """The server's secret, made on first use; a race between two first starts keeps the first one written."""
    with engine.connect() as conn:
        value = conn.execute(select(t.settings.c.value).where(t.settings.c.key == "secret_key")).scalar()
    if value is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(t.settings).values(key="secret_key", value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        with engine.connect() as conn:
            value = conn.execute(select(t.settings.c.value).where(t.settings.c.key == "secret_key")).scalar_one()
    return bytes.fromhex(value)
