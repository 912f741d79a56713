"""The dashboard's sessions: a signed cookie, HttpOnly and SameSite=Strict, and a CSRF token per
session for every form.

With a token configured, the cookie also says that its holder typed the token (the login form);
it is signed with a key derived from the token, so changing the token signs everybody out.
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


class Sessions:
    def __init__(self, token: str | None) -> None:
        self.token = token
        key = token if token is not None else secrets.token_hex(32)
        self._cookies = URLSafeTimedSerializer(key, salt="parcel-monitor.session")
        self._csrf = Signer(key, salt="parcel-monitor.csrf")

    @property
    def required(self) -> bool:
        """Whether the pages ask for the token first."""
        return self.token is not None

    def read(self, request: web.Request) -> Session:
        """The request's session, or a new one (which the response must `keep`)."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = self._cookies.loads(raw, max_age=MAX_AGE_S)
                return Session(sid=str(data["sid"]), signed_in=bool(data["in"]))
            except (BadSignature, KeyError, TypeError):
                pass
        return Session(sid=secrets.token_urlsafe(18), signed_in=False, new=True)

    def sign_in(self, given: str) -> Session | None:
        if self.token is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        # A new id at sign-in: a session id planted before it is worth nothing after.
        return Session(sid=secrets.token_urlsafe(18), signed_in=True, new=True)

    def keep(self, response: web.StreamResponse, session: Session, *, secure: bool) -> None:
        response.set_cookie(
            COOKIE,
            self._cookies.dumps({"sid": session.sid, "in": session.signed_in}),
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
