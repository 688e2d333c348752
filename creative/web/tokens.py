"""Signed impression tokens: a click is only recorded for an impression this server served.

A token carries the impression's facts (experiment, creative, user, impression id, time, size, round
of service, holdout mark) and
an HMAC-SHA256 over them; changing any byte, or minting one without the server's secret, fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from creative.web.errors import BadToken

MAX_TOKEN_LENGTH = 2048
_TAG_BYTES = 16  # 128-bit tag: forging one is 2**-128 per try


@dataclass(frozen=True, slots=True)
class Impression:
    experiment: str
    creative: str
    user: str
    impression_id: str
    ts_ms: int
    size: str | None
    served_round: int | None = None
    holdout: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ImpressionSigner:
    def __init__(self, secret: bytes) -> None:
        # a key of its own, so a session cookie signature can never be replayed as a token
        self._key = hmac.new(secret, b"creative-impression-token-v1", hashlib.sha256).digest()

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_TAG_BYTES]

    def sign(self, imp: Impression) -> str:
        body = json.dumps([imp.experiment, imp.creative, imp.user, imp.impression_id, imp.ts_ms, imp.size, imp.served_round, imp.holdout],
                          separators=(",", ":"), ensure_ascii=False).encode()
        return f"{_b64(body)}.{_b64(self._tag(body))}"

    def verify(self, token: str) -> Impression:
        """The impression a token stands for; BadToken when it was not signed here or was altered."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise BadToken("the click token is missing or malformed; use the token /v1/serve returned")
        body_text, tag_text = token.split(".")
        try:
            body, tag = _unb64(body_text), _unb64(tag_text)
        except (ValueError, TypeError):
            raise BadToken("the click token is not valid base64; use the token /v1/serve returned") from None
        if not hmac.compare_digest(tag, self._tag(body)):
            raise BadToken("the click token's signature does not match; it was not issued by this server or was altered")
        exp, creative, user, imp_id, ts_ms, size, *served = json.loads(body)  # tokens signed before rounds were added have 6 fields
        served_round, holdout = (served + [None, False])[:2]
        return Impression(exp, creative, user, imp_id, int(ts_ms), size, served_round, bool(holdout))
