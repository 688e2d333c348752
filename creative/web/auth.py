"""Users, passwords, API keys and the signing secret.

Passwords are hashed with scrypt (stdlib, memory-hard); API keys are 256-bit random secrets, so a
plain SHA-256 of them is enough to store. The secret that signs session cookies and impression
tokens lives in the database, so every server process on the same database agrees on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from creative.web import tables as t
from creative.web.errors import UserExists, UserNotFound, WeakPassword

ROLES = ("admin", "editor")
MIN_PASSWORD_LENGTH = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
API_KEY_PREFIX = "ck_"


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    role: str


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
    if role not in ROLES:
        raise UserNotFound(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}")
    try:
        with engine.begin() as conn:
            user_id = conn.execute(insert(t.users).values(
                username=username, password_hash=hash_password(password), role=role, disabled=False, created_at=_now())).inserted_primary_key[0]
    except IntegrityError:
        raise UserExists(f"user {username!r} already exists; pick another name or reset the password with `creative users set-password`") from None
    return User(int(user_id), username, role)


def set_password(engine: Engine, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}")
    with engine.begin() as conn:
        done = conn.execute(update(t.users).where(t.users.c.username == username).values(password_hash=hash_password(password))).rowcount
    if not done:
        raise UserNotFound(f"no user {username!r}; list them with `creative users list`")


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [User(r.user_id, r.username, r.role) for r in conn.execute(select(t.users).order_by(t.users.c.user_id))]


def get_user(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(t.users).where(t.users.c.user_id == user_id, t.users.c.disabled.is_(False))).first()
    return User(row.user_id, row.username, row.role) if row else None


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(t.users).where(t.users.c.username == username)).first()
    if row is None or row.disabled:
        verify_password(password, _DUMMY_HASH)
        return None
    return User(row.user_id, row.username, row.role) if verify_password(password, row.password_hash) else None


def create_api_key(engine: Engine, username: str, label: str = "") -> str:
    """A new key for `username`, returned once in full; only its hash is stored."""
    with engine.begin() as conn:
        row = conn.execute(select(t.users.c.user_id).where(t.users.c.username == username)).first()
        if row is None:
            raise UserNotFound(f"no user {username!r}; create one with `creative users create-admin`")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        conn.execute(insert(t.api_keys).values(key_id=key_id, user_id=row.user_id, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                                               label=label[:200], revoked=False, created_at=_now()))
    return f"{API_KEY_PREFIX}{key_id}_{secret}"


def revoke_api_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(update(t.api_keys).where(t.api_keys.c.key_id == key_id).values(revoked=True)).rowcount)


def user_for_api_key(engine: Engine, key: str) -> User | None:
    if not key.startswith(API_KEY_PREFIX) or "_" not in key[len(API_KEY_PREFIX):]:
        return None
    key_id, _, secret = key[len(API_KEY_PREFIX):].partition("_")
    with engine.connect() as conn:
        row = conn.execute(select(t.api_keys.c.secret_sha256, t.api_keys.c.revoked, t.users.c.user_id, t.users.c.username, t.users.c.role, t.users.c.disabled)
                           .join(t.users, t.users.c.user_id == t.api_keys.c.user_id).where(t.api_keys.c.key_id == key_id)).first()
    if row is None or row.revoked or row.disabled:
        return None
    if not hmac.compare_digest(row.secret_sha256, hashlib.sha256(secret.encode()).hexdigest()):
        return None
    return User(row.user_id, row.username, row.role)


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
