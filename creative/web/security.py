"""Sessions, CSRF and request-size limits for the UI.

The session is a cookie signed with itsdangerous (user id + CSRF token), HttpOnly and SameSite=Lax.
Every state-changing request from a browser must carry the session's CSRF token, as a form field
`csrf` or an `X-CSRF-Token` header, and must not come from another origin. API-key requests carry
no ambient credential, so they need no CSRF token.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlparse

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creative.web.auth import User, get_user, user_for_api_key

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
            await _too_large(send, limit)
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
                await _too_large(send, limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"the request body is over the {limit // 1024 // 1024 or 1} MB limit; upload fewer or smaller files"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def current_user(request: Request) -> User | None:
    """The user of a session cookie or an API key (cached on the request)."""
    if "user" in request.scope:
        return request.scope["user"]
    engine = request.app.state.engine
    user = None
    key = bearer_key(request)
    if key:
        user = user_for_api_key(engine, key)
        request.scope["auth"] = "api_key" if user else None
    else:
        uid = request.scope.get("session", {}).get("uid")
        if isinstance(uid, int):
            user = get_user(engine, uid)
            request.scope["auth"] = "session" if user else None
    request.scope["user"] = user
    return user


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None  # browsers send Origin on cross-site posts; "null" is an opaque origin
    return urlparse(origin).netloc == request.headers.get("host", "")


async def checked_form(request: Request) -> FormData:
    """The posted form, after the CSRF and origin checks (API-key requests skip CSRF)."""
    form = await request.form(max_files=200, max_fields=500)
    if request.scope.get("auth") == "api_key":
        return form
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    expected = request.scope.get("session", {}).get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected) or not _same_origin(request):
        raise HTTPException(403, "the form's CSRF token is missing or stale; reload the page and submit again")
    return form


def check_csrf_header(request: Request) -> None:
    """For JSON/JSONL posts from the browser: the token must come as the X-CSRF-Token header."""
    if request.scope.get("auth") == "api_key":
        return
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
