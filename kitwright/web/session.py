"""The web session of the request being served, and its CSRF token.

A leaf: the request guard (kitwright.guard) sets `current_web_session` for each request; the
pages and the sign-in read it. It imports nothing else of Kitwright.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

from starlette.responses import Response

CSRF_COOKIE = "csrftoken"

# The signed session cookie's contents (Starlette's SessionMiddleware) for this request.
current_web_session: ContextVar[MutableMapping[str, Any] | None] = ContextVar("kitwright_web_session", default=None)


def csrf_token(session: MutableMapping[str, Any] | None = None) -> str:
    """The session's CSRF token, created on first use."""
    session = session if session is not None else current_web_session.get()
    if session is None:
        return ""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def set_csrf_cookie(response: Response, token: str, *, https_only: bool) -> None:
    """Readable by the page's own scripts (GraphiQL sends it back as X-CSRFToken); a cross-site
    page can neither read it nor make the browser send the matching header."""
    response.set_cookie(CSRF_COOKIE, token, path="/", secure=https_only, httponly=False, samesite="strict")
