"""The dashboard's sessions: a signed cookie, HttpOnly and SameSite=Strict, and a CSRF token per
session for every form.

With a token configured, the cookie also says that its holder typed the token (the login form),
or the read token, which opens the pages read-only; it is signed with a key derived from both
tokens, so changing either signs everybody out.
Without a token the key is random per process: the pages are read-only then, and a restart only
costs a reload.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

COOKIE = "parcel_monitor_session"
MAX_AGE_S = 30 * 86400


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    signed_in: bool
    new: bool = False
    read_only: bool = False  # signed in with the read token: pages, no forms


class Sessions:
    def __init__(self, token: str | None, read_token: str | None = None) -> None:
        self.token, self.read_token = token, read_token
        if token is None and read_token is None:
            key = secrets.token_hex(32)
        else:
            key = f"{token or ''}\n{read_token or ''}"
        self._cookies = URLSafeTimedSerializer(key, salt="parcel-monitor.session")
        self._csrf = Signer(key, salt="parcel-monitor.csrf")

    @property
    def required(self) -> bool:
        """Whether the pages ask for the token first."""
        return self.token is not None or self.read_token is not None

    def read(self, request: web.Request) -> Session:
        """The request's session, or a new one (which the response must `keep`)."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = self._cookies.loads(raw, max_age=MAX_AGE_S)
                return Session(
                    sid=str(data["sid"]), signed_in=bool(data["in"]), read_only=bool(data.get("ro"))
                )
            except (BadSignature, KeyError, TypeError):
                pass
        return Session(sid=secrets.token_urlsafe(18), signed_in=False, new=True)

    def sign_in(self, given: str) -> Session | None:
        """A new session for the token (changes allowed) or the read token (reading only)."""
        # A new id at sign-in: a session id planted before it is worth nothing after.
        if _same(given, self.token):
            return Session(sid=secrets.token_urlsafe(18), signed_in=True, new=True)
        if _same(given, self.read_token):
            return Session(sid=secrets.token_urlsafe(18), signed_in=True, new=True, read_only=True)
        return None

    def keep(self, response: web.StreamResponse, session: Session, *, secure: bool) -> None:
        response.set_cookie(
            COOKIE,
            self._cookies.dumps(
                {"sid": session.sid, "in": session.signed_in, "ro": session.read_only}
            ),
            max_age=MAX_AGE_S,
            httponly=True,
            samesite="Strict",
            secure=secure,
            path="/",
        )

    def forget(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")

    def csrf(self, session: Session) -> str:
        return self._csrf.get_signature(session.sid).decode()

    def csrf_ok(self, session: Session, given: str) -> bool:
        return not session.new and hmac.compare_digest(given.encode(), self.csrf(session).encode())


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())
