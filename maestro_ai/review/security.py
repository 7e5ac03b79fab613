"""Access to the review app: the reviewer token, the session cookie and CSRF tokens.

* The token (``MAESTRO_REVIEW_TOKEN``, at least 32 random bytes) is compared with :func:`hmac.compare_digest`, so
  the time a comparison takes does not depend on how much of a guess was right.
* Every visitor holds a session cookie ``maestro_review`` (HttpOnly, SameSite=Strict; Secure over https) whose value
  is ``<session id>.<authenticated 0|1>.<HMAC>``, signed with a secret drawn per process: a restart logs everyone
  out, and no cookie can be forged or upgraded without the secret. Logging in issues a fresh session id.
* The CSRF token of a form is the HMAC of the session id under the same secret, checked on every cookie-authenticated
  POST. Scripts send ``Authorization: Bearer <token>`` instead; a browser never adds that header by itself, so those
  requests need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import Enum

from pydantic import SecretStr

COOKIE = "maestro_review"
_SESSION_BYTES = 18


class Refusal(Enum):
    """Why a request may not write (or read, when reads need the token): the HTTP status and a message."""

    NOT_CONFIGURED = (403, "the review app is read-only: no reviewer token is configured (set MAESTRO_REVIEW_TOKEN "
                           "to at least 43 characters, e.g. the output of python -c 'import secrets; "
                           "print(secrets.token_urlsafe(32))', and restart `maestro review serve`)")
    NO_TOKEN = (401, "the reviewer token is required: log in at /login, or send Authorization: Bearer <token>")
    WRONG_TOKEN = (403, "the reviewer token is wrong")
    BAD_CSRF = (403, "the form's CSRF token is missing or stale: reload the page and submit again")

    @property
    def status(self) -> int:
        return int(self.value[0])

    @property
    def message(self) -> str:
        return str(self.value[1])


@dataclass(frozen=True)
class Session:
    """One visitor's session: ``sid`` identifies it (and keys its CSRF token); ``authenticated`` after a login."""

    sid: str
    authenticated: bool


class Guard:
    """Checks tokens, signs sessions and CSRF tokens for one app instance.

    Args:
        token: the configured reviewer token, or None (the app is then read-only).
        secret: the signing key; a fresh 32 random bytes when omitted (one per process).
    """

    def __init__(self, token: SecretStr | None, secret: bytes | None = None) -> None:
        self._token = token.get_secret_value().encode() if token is not None else None
        self._secret = secret or secrets.token_bytes(32)
        # Bound into each signature, so a cookie issued under another token does not authenticate under this one.
        self._token_tag = hashlib.sha256(self._token or b"").hexdigest()[:16]

    @property
    def configured(self) -> bool:
        return self._token is not None

    def token_matches(self, presented: str) -> bool:
        """Whether ``presented`` is the configured token, compared in constant time (False when none is set)."""
        if self._token is None:
            return False
        return hmac.compare_digest(presented.encode(), self._token)

    # -- sessions ------------------------------------------------------------------------------------------------
    def new_session(self, authenticated: bool) -> Session:
        return Session(secrets.token_urlsafe(_SESSION_BYTES), authenticated)

    def cookie_value(self, session: Session) -> str:
        body = f"{session.sid}.{int(session.authenticated)}"
        return f"{body}.{self._sign('session', body)}"

    def read_cookie(self, value: str | None) -> Session | None:
        """The session a cookie carries, or None when it is absent, malformed or not signed by this process."""
        if not value or value.count(".") != 2:
            return None
        sid, flag, signature = value.split(".")
        body = f"{sid}.{flag}"
        if flag not in ("0", "1") or not hmac.compare_digest(signature, self._sign("session", body)):
            return None
        return Session(sid, flag == "1" and self.configured)

    def csrf_token(self, session: Session) -> str:
        return self._sign("csrf", session.sid)

    def csrf_matches(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented), self.csrf_token(session))

    # -- decisions -------------------------------------------------------------------------------------------------
    def refuse_write(self, session: Session | None, authorization: str | None, csrf: str | None) -> Refusal | None:
        """Why a write is refused, or None when it may proceed.

        A Bearer header is judged on its own (no CSRF token needed); otherwise the session cookie must be
        authenticated and the form's CSRF token must match the session.
        """
        if not self.configured:
            return Refusal.NOT_CONFIGURED
        bearer = bearer_token(authorization)
        if bearer is not None:
            return None if self.token_matches(bearer) else Refusal.WRONG_TOKEN
        if session is None or not session.authenticated:
            return Refusal.NO_TOKEN
        return None if self.csrf_matches(session, csrf) else Refusal.BAD_CSRF

    def refuse_read(self, session: Session | None, authorization: str | None) -> Refusal | None:
        """Why a read is refused when reads need the token (the caller checks that setting)."""
        if not self.configured:
            return Refusal.NOT_CONFIGURED
        bearer = bearer_token(authorization)
        if bearer is not None:
            return None if self.token_matches(bearer) else Refusal.WRONG_TOKEN
        return None if session is not None and session.authenticated else Refusal.NO_TOKEN

    def _sign(self, purpose: str, text: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}|{self._token_tag}|{text}".encode(), hashlib.sha256)
        return mac.hexdigest()[:43]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when there is no such header."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?#-]*")


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to redirect to after a login; anything else (``//host``, ``https://``, a backslash, a tab or
    other whitespace, which a browser drops, turning ``/<TAB>/host`` into ``//host``) gives ``default``."""
    return target if target and _LOCAL_PATH.fullmatch(target) else default
