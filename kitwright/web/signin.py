"""Sign-in and sign-out for people: a form, a signed session cookie, CSRF tokens.

The session cookie (Starlette SessionMiddleware, signed with KITWRIGHT_SECRET_KEY; outside
production a key the service generates once and keeps in the database) holds the user id, a
marker that changes with the password, the id of a server-side session (`web_session`, ended
by signing out) and the CSRF token. Every unsafe request made with the cookie must carry
that token (kitwright.guard); forms get it as a hidden `csrf_token` field, GraphiQL as the
`X-CSRFToken` header read from the `csrftoken` cookie.
"""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kitwright.services import auth
from kitwright.web.common import page
from kitwright.web.session import CSRF_COOKIE, csrf_token, set_csrf_cookie


def safe_next(target: str | None) -> str:
    """Only same-site paths: no scheme, no host, no backslash tricks (open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 32 for char in target):
        return "/"
    return target[:2000]


def routes(sessions: sessionmaker[Session], *, https_only: bool) -> list[Route]:
    def sign_in_page(request: Request, *, status: int = 200, message: str | None = None,
                     name: str = "") -> Response:
        return page(request, "signin.html", status=status, message=message, name=name,
                      next=safe_next(request.query_params.get("next")), csrf=csrf_token(request.session))

    async def sign_in_form(request: Request) -> Response:
        return sign_in_page(request)

    async def sign_in(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        sent = form.get("csrf_token")
        expected = request.session.get("csrf")
        if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(
            sent.encode(), expected.encode()
        ):
            return page(request, "error.html", status=403, message="The form expired; reload the sign-in page.")
        name = form.get("name")
        password = form.get("password")
        target = form.get("next")
        if not isinstance(name, str) or not isinstance(password, str):
            return sign_in_page(request, status=400, message="Enter your name and password.")

        def check() -> tuple[int, str, str] | None:
            with sessions() as session:
                user = auth.authenticate_password(session, name, password)
                if user is None:
                    return None
                user_id, marker = user.id, auth.session_marker(user)
                return user_id, marker, auth.start_web_session(session, user_id)

        found = await run_in_threadpool(check)
        if found is None:
            return sign_in_page(request, status=401, message="Wrong name or password.", name=name[:200])
        request.session.clear()  # a new session: no fixation
        request.session.update({"uid": found[0], "marker": found[1], "sid": found[2],
                                "csrf": secrets.token_urlsafe(32)})
        response = RedirectResponse(safe_next(target if isinstance(target, str) else None), status_code=303)
        set_csrf_cookie(response, request.session["csrf"], https_only=https_only)
        return response

    async def sign_out(request: Request) -> Response:
        sid = request.session.get("sid")

        def end() -> None:
            with sessions() as session:
                auth.end_web_session(session, sid)

        await run_in_threadpool(end)
        request.session.clear()
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    return [
        Route("/signin", sign_in_form, methods=["GET"]),
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", sign_out, methods=["POST"]),
    ]

