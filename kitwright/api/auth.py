"""Authentication of every HTTP request, route permissions, CSRF and rate limits.

`SecurityMiddleware` runs in front of every route. It finds who is calling —
`Authorization: Bearer <token or API key secret>` (or the bare token, as ION's scripts send), or the signed session cookie of the web
sign-in — and then:

- refuses anonymous calls (401 UNAUTHENTICATED; web pages redirect to /signin), unless the
  server was started with the development flag `--insecure-dev`;
- rate-limits each credential (per key or user) and, per client address, sign-in attempts,
  token requests and bad credentials (429), in buckets every worker and host shares
  (services.ratelimit);
- requires a CSRF token (header `X-CSRF-Token`, or a `csrf_token` form field) on every unsafe
  request authenticated by the cookie; bearer requests carry no ambient credential and need none;
- checks the permission of REST endpoints and web pages (`ROUTE_PERMISSIONS`; unlisted routes
  are for admins only). GraphQL fields are checked one by one (api.authorization);
- makes the actor the default of every unit of work opened while serving the request, so the
  ledger and the audit trail name the user or key.

No credential is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, quote

import simplejson
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, compile_path

from kitwright.domain.errors import KitwrightError, Unauthenticated
from kitwright.security.permissions import PUBLIC_ROUTES, ROUTE_PERMISSIONS, Permission, allowed
from kitwright.security.settings import SecuritySettings
from kitwright.services import auth
from kitwright.services.ratelimit import make_limiter
from kitwright.services.uow import ANONYMOUS, Actor, current_actor

log = logging.getLogger("kitwright.security")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The web session (cookie) of the request being served, for templates (the CSRF token).
current_web_session: ContextVar[MutableMapping[str, Any] | None] = ContextVar("kitwright_web_session", default=None)

DEV_ACTOR = Actor(id=1, name="dev (--insecure-dev)", role="admin")
ION_TOKEN_PATH = "/realms/api-keys/protocol/openid-connect/token"
AUTH0_TOKEN_PATH = "/oauth/token"  # where ion-importers' client asks for its token
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM = 1_000_000
CSRF_HEADERS = ("x-csrf-token", "x-csrftoken")
SIGNED_IN_ROUTES: dict[tuple[str, str], Permission] = {
    ("POST", "/signout"): Permission.VIEW_SELF,
    ("GET", "/graphql"): Permission.VIEW_SELF,
    ("POST", "/graphql"): Permission.VIEW_SELF,  # then every field is checked on its own
}


def _compile(keys: Any) -> list[tuple[str, str, re.Pattern[str]]]:
    return [(method, path, compile_path(path)[0]) for method, path in keys]


_ROUTES = _compile(list(PUBLIC_ROUTES) + list(ROUTE_PERMISSIONS) + list(SIGNED_IN_ROUTES))


def route_template(method: str, path: str) -> str | None:
    for known_method, template, pattern in _ROUTES:
        if known_method == method and pattern.match(path):
            return template
    return None


def route_permission(method: str, template: str | None) -> Permission | None:
    if template is None:
        return None
    return ROUTE_PERMISSIONS.get((method, template)) or SIGNED_IN_ROUTES.get((method, template))


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def unauthenticated(message: str = "sign in or send Authorization: Bearer <token>") -> Response:
    return JSONResponse(error_body("UNAUTHENTICATED", message), status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="kitwright"'})


def forbidden(message: str, *, html: bool = False) -> Response:
    if html:
        from kitwright.web.signin import render

        return render("error.html", status=403, message=message)
    return JSONResponse(error_body("FORBIDDEN", message), status_code=403)


def too_many(wait: float) -> Response:
    return JSONResponse(error_body("RATE_LIMITED", "too many requests; slow down"), status_code=429,
                        headers={"Retry-After": str(max(1, round(wait)))})


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _wants_page(method: str, path: str, headers: dict[str, str]) -> bool:
    if method != "GET" or path.startswith("/api/"):
        return False
    return path != "/graphql" or "text/html" in headers.get("accept", "")


def _is_form_post(method: str, path: str) -> bool:
    """A web page's form: refusals come back as a page in words, not JSON."""
    return method == "POST" and path not in ("/graphql", "/auth/token") and not path.startswith("/api/")


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session], settings: SecuritySettings) -> None:
        self.app = app
        self.sessions = sessions
        self.settings = settings
        engine = sessions.kw["bind"]
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
        with self.sessions() as session:
            return auth.authenticate_bearer(session, token)

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
            elif _wants_page(method, path, headers):
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
            if sent is None and _is_form_post(method, path) and headers.get("content-type", "").startswith(
                    "multipart/form-data"):
                # A file upload form without script cannot set a header, and the token comes
                # after the file in the body: the page puts it in the form's action address.
                values = parse_qs(bytes(scope.get("query_string") or b"").decode("latin-1")).get("csrf_token")
                sent = values[0] if values else None
            if not expected or sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
                await forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)",
                                html=path != "/graphql" and not path.startswith("/api/"))(scope, receive, send)
                return
            if body is not None:
                receive = _replay(body, receive)

        needed = route_permission(method, template)
        if not allowed(actor.role, actor.permissions, needed):
            what = f"the {needed} permission" if needed else "an admin"
            await forbidden(f"{method} {path} needs {what}; {actor.name} has role {actor.role}",
                            html=_wants_page(method, path, headers) or _is_form_post(method, path))(
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


def bearer_token(authorization: str) -> str:
    """The token of an Authorization header: `Bearer <token>`, or the bare `<token>` that ION's
    published scripts send. Any other form (Basic, Token, an empty Bearer) is refused."""
    value = authorization.strip()
    scheme, _, token = value.partition(" ")
    if not token:
        if value and value.lower() != "bearer":
            return value  # the bare token: no scheme at all
    elif scheme.lower() == "bearer" and token.strip() and " " not in token.strip():
        return token.strip()
    raise Unauthenticated("send Authorization: Bearer <token> (or the bare token, as ION scripts do)")


def request_actor(request: Request) -> Actor:
    actor = request.scope.get("state", {}).get("actor")
    return actor if isinstance(actor, Actor) else ANONYMOUS


# -- POST /auth/token ------------------------------------------------------------------------


def _token_error(status: int, error: str, description: str) -> Response:
    code = "UNAUTHENTICATED" if status == 401 else "BAD_USER_INPUT"
    body = {"error": error, "error_description": description, **error_body(code, description)}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _credentials(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    body = await request.body()
    if len(body) > 10_000:
        return found
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            payload = simplejson.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload = None
        if isinstance(payload, dict):
            found = {k: v for k, v in payload.items() if isinstance(k, str) and isinstance(v, str)}
    else:
        found = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items() if v}
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(basic[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        found.setdefault("client_id", client_id)
        found.setdefault("client_secret", secret)
    return found


def token_routes(sessions: sessionmaker[Session]) -> list[Route]:
    async def token(request: Request) -> Response:
        """OAuth2 client credentials: client_id + client_secret of an API key -> bearer token."""
        fields = await _credentials(request)
        if fields.get("grant_type", "client_credentials") != "client_credentials":
            return _token_error(400, "unsupported_grant_type", "grant_type must be client_credentials")

        def issue() -> tuple[str, int]:
            with sessions() as session:
                return auth.issue_token(session, fields.get("client_id", ""), fields.get("client_secret", ""))

        try:
            access_token, expires_in = await run_in_threadpool(issue)
        except KitwrightError as error:
            return _token_error(401, "invalid_client", error.message)
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in},
            headers={"Cache-Control": "no-store"},
        )

    # ION's scripts fetch tokens from ION's auth server path; it is served here too.
    return [Route(path, token, methods=["POST"]) for path in ("/auth/token", ION_TOKEN_PATH, AUTH0_TOKEN_PATH)]

