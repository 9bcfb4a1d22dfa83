"""The request guard: authentication of every HTTP request, route permissions, CSRF and rate
limits, in front of every route (docs/security.md).

`SecurityMiddleware` finds who is calling — `Authorization: Bearer <token or API key secret>`
(or the bare token, as ION's scripts send), or the signed session cookie of the web sign-in —
and then:

- refuses anonymous calls (401 UNAUTHENTICATED; web pages redirect to /signin), unless the
  server was started with the development flag `--insecure-dev`;
- rate-limits each credential (per key or user) and, per client address, sign-in attempts,
  token requests and bad credentials (429), in buckets every worker and host shares
  (services.ratelimit);
- requires a CSRF token (header `X-CSRF-Token`, or a `csrf_token` form field) on every unsafe
  request authenticated by the cookie; bearer requests carry no ambient credential and need none;
- checks the permission of REST endpoints and web pages (`ROUTE_PERMISSIONS`; unlisted routes
  are for admins only). GraphQL fields are checked one by one (api.authorization);
- makes the actor the default of every unit of work opened while serving the request, and the
  web session the one templates read (web.session), so the ledger and the audit trail name the
  user or key.

It sits beside the composition root, above api/ and web/: it asks the services who a credential
is, answers a refusal as JSON (api.auth) or as a page (web.common), and neither api/ nor web/
imports it. The policy it applies is pure and lives in security/ (security.requests,
security.permissions). No credential is ever logged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from kitwright.api.auth import error_body, too_many, unauthenticated
from kitwright.domain.errors import Unauthenticated
from kitwright.security.permissions import PUBLIC_ROUTES, allowed
from kitwright.security.requests import (
    CSRF_HEADERS,
    SAFE_METHODS,
    bearer_token,
    is_form_post,
    route_permission,
    route_template,
    wants_page,
)
from kitwright.security.settings import SecuritySettings
from kitwright.services import auth
from kitwright.services.actor import ANONYMOUS, Actor, current_actor
from kitwright.services.ratelimit import make_limiter
from kitwright.web.common import page
from kitwright.web.session import current_web_session

log = logging.getLogger("kitwright.security")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEV_ACTOR = Actor(id=1, name="dev (--insecure-dev)", role="admin")
MAX_FORM = 1_000_000


def forbidden(scope: Scope, message: str, *, html: bool = False) -> Response:
    if html:
        return page(Request(scope), "error.html", status=403, message=message)
    return JSONResponse(error_body("FORBIDDEN", message), status_code=403)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session], settings: SecuritySettings) -> None:
        self.app = app
        self.sessions = sessions
        self.settings = settings
        engine = sessions.kw["bind"]
        # The bearer lookup is one SELECT: on PostgreSQL in autocommit, with no transaction
        # around it.
        self.reader = (engine.execution_options(isolation_level="AUTOCOMMIT")
                       if engine.dialect.name == "postgresql" else engine)
        # Shared by every worker and host: in the database, or in Redis (services.ratelimit).
        self.limiter = make_limiter(engine, settings.redis_url, settings.rate_per_minute, settings.rate_burst,
                                    prefix="req:")
        self.auth_limiter = make_limiter(engine, settings.redis_url, settings.auth_rate_per_minute,
                                         max(5.0, settings.auth_rate_per_minute / 2), prefix="auth:")

    async def _take(self, limiter: Any, key: str) -> float | None:
        leased = getattr(limiter, "take_leased", None)
        if leased is not None and leased(key):  # admitted from this worker's lease: no I/O
            return None
        wait: float | None = await run_in_threadpool(limiter.take, key)
        return wait

    def _resolve_bearer(self, token: str) -> Actor:
        with self.reader.connect() as connection:
            return auth.authenticate_bearer(connection, token)

    def _resolve_session(self, user_id: object, marker: object, sid: object) -> Actor | None:
        with self.sessions() as session:
            return auth.session_actor(session, user_id, marker, sid)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = "GET" if scope["method"] == "HEAD" else str(scope["method"])
        path = str(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        template = route_template(method, path)
        if (method, template) in PUBLIC_ROUTES:
            if method == "POST":
                wait = await self._take(self.auth_limiter, client_address(scope))
                if wait is not None:
                    await too_many(wait)(scope, receive, send)
                    return
            await self._forward(ANONYMOUS, scope, receive, send)
            return

        actor: Actor | None = None
        via_cookie = False
        authorization = headers.get("authorization")
        if authorization is not None:
            try:
                actor = await run_in_threadpool(self._resolve_bearer, bearer_token(authorization))
            except Unauthenticated as error:
                wait = await self._take(self.auth_limiter, client_address(scope))
                response = too_many(wait) if wait is not None else unauthenticated(error.message)
                await response(scope, receive, send)
                return
        else:
            session_data = scope.get("session") or {}
            if "uid" in session_data:
                actor = await run_in_threadpool(
                    self._resolve_session, session_data.get("uid"), session_data.get("marker"),
                    session_data.get("sid"),
                )
                via_cookie = actor is not None
                if actor is None:
                    session_data.clear()  # a deactivated user or a changed password

        if actor is None:
            if self.settings.insecure_dev:
                actor = DEV_ACTOR
            elif wants_page(method, path, headers):
                target = "/signin?next=" + quote(path + (("?" + scope["query_string"].decode("latin-1"))
                                                        if scope.get("query_string") else ""), safe="")
                await RedirectResponse(target, status_code=303)(scope, receive, send)
                return
            else:
                await unauthenticated()(scope, receive, send)
                return

        bucket = f"key:{actor.api_key_id}" if actor.api_key_id is not None else f"user:{actor.id}"
        wait = await self._take(self.limiter, bucket)
        if wait is not None:
            await too_many(wait)(scope, receive, send)
            return
        # A JSON-array batch is charged one request per operation; the endpoint, which reads
        # the body, charges the rest through this (docs/ion-compatibility.md).
        scope.setdefault("state", {})["charge_operations"] = lambda count: self.limiter.take(bucket, count)

        if via_cookie and method not in SAFE_METHODS:
            expected = str((scope.get("session") or {}).get("csrf") or "")
            sent = next((headers[h] for h in CSRF_HEADERS if h in headers), None)
            body: bytes | None = None
            if sent is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                body = await _read_body(receive)
                if body is not None:
                    values = parse_qs(body.decode("latin-1")).get("csrf_token")
                    sent = values[0] if values else None
            if sent is None and is_form_post(method, path) and headers.get("content-type", "").startswith(
                    "multipart/form-data"):
                # A file upload form without script cannot set a header, and the token comes
                # after the file in the body: the page puts it in the form's action address.
                values = parse_qs(bytes(scope.get("query_string") or b"").decode("latin-1")).get("csrf_token")
                sent = values[0] if values else None
            if not expected or sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
                await forbidden(scope, "missing or wrong CSRF token (send the X-CSRF-Token header)",
                                html=path != "/graphql" and not path.startswith("/api/"))(scope, receive, send)
                return
            if body is not None:
                receive = _replay(body, receive)

        needed = route_permission(method, template)
        if not allowed(actor.role, actor.permissions, needed):
            what = f"the {needed} permission" if needed else "an admin"
            await forbidden(scope, f"{method} {path} needs {what}; {actor.name} has role {actor.role}",
                            html=wants_page(method, path, headers) or is_form_post(method, path))(
                scope, receive, send)
            return
        await self._forward(actor, scope, receive, send)

    async def _forward(self, actor: Actor, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["actor"] = actor
        token = current_actor.set(actor)
        session_token = current_web_session.set(scope.get("session"))
        try:
            await self.app(scope, receive, send)
        finally:
            current_web_session.reset(session_token)
            current_actor.reset(token)


async def _read_body(receive: Receive) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += bytes(message.get("body", b""))
        if len(body) > MAX_FORM:
            return None
        if not message.get("more_body", False):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
