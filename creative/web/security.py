"""Who may do what: sessions, route guards, CSRF, login throttling and request-size limits.

The session is a cookie signed with itsdangerous (user id, session version, CSRF token), HttpOnly and
SameSite=Lax; it stops working as soon as the user's session version moves on (logout, password
change, disabling). Every route that changes something is wrapped in `requires(scope)`: page routes
take only the session cookie, API routes also an API key, and the caller needs the scope (through
their role, and for a key also among the key's own scopes). Every cookie-authenticated write must
carry the session's CSRF token, as a form field `csrf` or an `X-CSRF-Token` header, and must not
come from another origin; API-key requests carry no ambient credential, so they need no CSRF token.
Failed logins are throttled per account and per address.
"""

from __future__ import annotations

import functools
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creative.web.auth import KeyHolder, User, authenticate, end_sessions, key_holder, roles_with, session_user

SESSION_COOKIE = "creative_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SessionMiddleware:
    """Loads the signed session cookie into scope["session"]; re-signs it when a handler changed it."""

    def __init__(self, app: ASGIApp, secret: bytes, max_age: int, secure: bool, skip_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes
        self.serializer = URLSafeTimedSerializer(secret, salt="creative-session-v1")
        self.max_age = max_age
        self.secure = secure

    def _load(self, scope: Scope) -> dict[str, Any]:
        for name, value in scope["headers"]:
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, raw = part.strip().partition("=")
                    if key == SESSION_COOKIE:
                        try:
                            data = self.serializer.loads(raw, max_age=self.max_age)
                            return data if isinstance(data, dict) else {}
                        except BadSignature:
                            return {}
        return {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip_prefixes):
            scope["session"] = {}  # public ad-serving paths: no cookie work on the hot path
            await self.app(scope, receive, send)
            return
        session = self._load(scope)
        before = json.dumps(session, sort_keys=True)
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                after = json.dumps(scope["session"], sort_keys=True)
                if after != before:
                    flags = f"Path=/; Max-Age={self.max_age}; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
                    cookie = f"{SESSION_COOKIE}={self.serializer.dumps(scope['session'])}; {flags}"
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class BodyLimitMiddleware:
    """Refuses bodies over the limit for their path with 413, before or while they are read."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))
        self.default = default

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((v for n, v in scope["headers"] if n == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit, scope["path"])
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send, limit, scope["path"])


class _TooLarge(Exception):
    pass


FILE_UPLOADS = ("/elements/upload", "/catalog/import")  # forms whose body is files


async def _too_large(send: Send, limit: int, path: str) -> None:
    if path.startswith("/v1/"):
        what_to_do = "split the batch into several requests"
    elif path in FILE_UPLOADS:
        what_to_do = "upload fewer or smaller files"
    else:
        what_to_do = "send a shorter text"
    body = json.dumps({"error": f"the request body is over the {limit // 1024 // 1024 or 1} MB limit; {what_to_do}"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def current_user(request: Request) -> User | None:
    """The user of the session cookie (cached on the request; on an API route `requires` may have set a key's user first)."""
    if "user" in request.scope:
        return request.scope["user"]
    session = request.scope.get("session", {})
    uid, version = session.get("uid"), session.get("sv")
    user = session_user(request.app.state.engine, uid, version) if isinstance(uid, int) and isinstance(version, int) else None
    request.scope["user"] = user
    return user


Handler = Callable[[Request], Awaitable[Response]]


def requires(scope: str, *, api: bool = False) -> Callable[[Handler], Handler]:
    """Route guard for a route that changes something under `scope` (one of auth.SCOPES).

    Page routes (the default) accept only a logged-in session and refuse API keys; API routes (`api=True`)
    accept either. A cookie-authenticated write must carry the CSRF token (a form field or header on pages,
    the X-CSRF-Token header on the API). 401 when nobody is logged in; 403 for a key on a page, a missing
    CSRF token, or a missing role or scope (named in the message).
    """
    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            await _authorize(request, scope, api)
            return await handler(request)

        guarded.required_scope = scope  # type: ignore[attr-defined]  # read by the test that every write route is guarded
        return guarded
    return guard


async def _authorize(request: Request, scope: str, api: bool) -> None:
    key = bearer_key(request)
    if key is not None:
        if not api:
            raise HTTPException(403, "API keys are not accepted on pages; log in, or call the /v1 API with the key")
        holder = key_holder(request.app.state.engine, key)
        if holder is None:
            raise HTTPException(401, "the API key is unknown or revoked, or its user is disabled; make a new one with `creative users api-key`")
        request.scope["user"] = holder.user
        if not holder.allows(scope):
            raise HTTPException(403, _key_refusal(holder, scope))
        return
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "this needs an API key (Authorization: Bearer ck_...) or a logged-in session" if api else "log in first")
    if scope not in user.scopes:
        raise HTTPException(403, _role_refusal(user, scope))
    if request.method in UNSAFE_METHODS:
        if api:
            check_csrf_header(request)
        else:
            await checked_form(request)


def _role_refusal(user: User, scope: str) -> str:
    article = "an" if user.role[:1] in "aeiou" else "a"
    return f"this needs the {' or '.join(roles_with(scope))} role ({scope}); {user.username} is {article} {user.role}"


def _key_refusal(holder: KeyHolder, scope: str) -> str:
    if scope not in holder.scopes:
        return (f"this API key may not do that: it needs the {scope} scope and has {', '.join(sorted(holder.scopes))}; "
                f"make a key with `creative users api-key {holder.user.username} --scope {scope}`")
    return _role_refusal(holder.user, scope)


def client_address(request: Request) -> str:
    """The client's address; behind a proxy listed in `creative serve --forwarded-allow-ips`, the address it forwarded."""
    return request.client.host if request.client else "?"


async def log_in(request: Request, username: str, password: str) -> User | None:
    """Check the password and start a fresh session; HTTPException 429 (with Retry-After) while the account or the
    address has too many recent failures, checked before the password so a locked account answers nothing."""
    state = request.app.state
    settings, throttle = state.settings, state.login_throttle
    account, address = f"account\x00{username.casefold()}", f"address\x00{client_address(request)}"
    now = time.time()  # wall clock: the throttle may be shared by processes on several hosts (creative.web.shared_state)
    wait = max(throttle.retry_after(account, settings.login_failures_per_account, now),
               throttle.retry_after(address, settings.login_failures_per_address, now))
    if wait:
        raise HTTPException(429, f"too many failed logins for this account or from this address; try again in {-(-wait // 60)} minutes",
                            headers={"retry-after": str(wait)})
    # counted before the slow password check, so guesses sent in parallel can't all slip under the limit
    throttle.fail(account, now)
    throttle.fail(address, now)
    user = await run_in_threadpool(authenticate, state.engine, username, password)
    if user is None:
        return None
    throttle.clear(account)
    throttle.forgive(address)
    session = request.scope["session"]
    session.clear()  # new session on login: a planted session id is worthless
    session.update({"uid": user.user_id, "sv": user.session_version, "csrf": secrets.token_urlsafe(24)})
    return user


async def log_out(request: Request) -> None:
    """End every session of the user (this cookie and any copy of it), not only forget this one."""
    user = current_user(request)
    if user is not None:
        await run_in_threadpool(end_sessions, request.app.state.engine, user.user_id)
    request.scope["session"].clear()


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None  # browsers send Origin on cross-site posts; "null" is an opaque origin
    return urlparse(origin).netloc == request.headers.get("host", "")


async def checked_form(request: Request) -> FormData:
    """The posted form, after the CSRF and origin checks (pages take no API keys, so every form post has them)."""
    form = await request.form(max_files=200, max_fields=500)
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    expected = request.scope.get("session", {}).get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected) or not _same_origin(request):
        raise HTTPException(403, "the form's CSRF token is missing or stale; reload the page and submit again")
    return form


def check_csrf_header(request: Request) -> None:
    """For JSON/JSONL posts from a logged-in browser: the token must come as the X-CSRF-Token header."""
    sent = request.headers.get(CSRF_HEADER)
    expected = request.scope.get("session", {}).get("csrf")
    if not sent or not expected or not hmac.compare_digest(sent, expected) or not _same_origin(request):
        raise HTTPException(403, "the CSRF token is missing or stale; reload the page and try again")


SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """A strict CSP and friends on UI responses: even an unescaped string could not run a script."""

    def __init__(self, app: ASGIApp, skip_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
