"""The outermost layer of every HTTP request (docs/security.md):

- the client's address: the peer, or the address a trusted proxy (KITWRIGHT_TRUSTED_PROXIES,
  none by default) put in X-Forwarded-For — so sign-in limits cannot be dodged by a header;
- insecure-dev mode answers only loopback Host names and JSON POSTs to /graphql, so neither a
  web page nor DNS rebinding can drive a developer's server;
- the request body is counted while it streams and refused past KITWRIGHT_MAX_BODY_BYTES
  (413) before anything parses it, whatever the route or content type;
- security headers on every response, and `Cache-Control: no-store` on signed-in answers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse

from kitwright.security.settings import SecuritySettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Pages load htmx and their own script from /static and talk back to the same origin.
PAGE_CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# GraphiQL is a page of scripts and styles from unpkg.com talking to /graphql.
GRAPHIQL_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://unpkg.com; "
                "style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data:; "
                "font-src 'self' data: https://unpkg.com; connect-src 'self'; form-action 'self'; "
                "base-uri 'none'; frame-ancestors 'none'")


class BodyTooLarge(Exception):
    pass


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


def _networks(names: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for name in names:
        try:
            networks.append(ipaddress.ip_network(name, strict=False))
        except ValueError:
            raise ValueError(f"KITWRIGHT_TRUSTED_PROXIES: {name!r} is not an address or network") from None
    return networks


def host_name(host_header: str) -> str:
    """`[::1]:8000` -> `::1`; `Localhost:80` -> `localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.settings = settings
        self.proxies = _networks(settings.trusted_proxies)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    def client_address(self, peer: str, forwarded: str | None) -> str:
        """The rightmost address not added by a trusted proxy (the leftmost ones are the
        client's own word and prove nothing)."""
        if not forwarded or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop[:100]
        return hops[0][:100] if hops else peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        forwarded: list[str] = []
        for key, value in scope["headers"]:
            name = key.decode("latin-1").lower()
            text = value.decode("latin-1")
            if name == "x-forwarded-for":
                forwarded.append(text)  # repeated headers are one list
            headers[name] = text
        client = scope.get("client")
        if client:
            scope["client"] = (self.client_address(str(client[0]), ",".join(forwarded) or None), client[1])

        if self.settings.insecure_dev:
            refusal = self._insecure_dev_refusal(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return

        limit = self.settings.max_body_bytes
        path = scope.get("path", "")
        if headers.get("content-type", "").startswith("multipart/form-data") and (
            path == "/graphql" or path.startswith("/api/import/")
        ):
            limit = self.settings.max_upload_bytes  # spreadsheets, spooled to disk (api.uploads)
        def too_big() -> JSONResponse:  # built only when sent
            return _error(413, "BAD_USER_INPUT", f"request body larger than {limit} bytes")

        declared = headers.get("content-length")
        if declared is not None and (not (declared.isascii() and declared.isdigit()) or int(declared) > limit):
            await too_big()(scope, receive, send)
            return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        started = False
        production = self.settings.production

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                out = MutableHeaders(scope=message)
                is_graphiql = scope["path"] == "/graphql" and out.get("content-type", "").startswith("text/html")
                out.setdefault("Content-Security-Policy", GRAPHIQL_CSP if is_graphiql else PAGE_CSP)
                out.setdefault("X-Frame-Options", "DENY")
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("Referrer-Policy", "no-referrer")
                if production:
                    out.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
                actor = scope.get("state", {}).get("actor")
                if getattr(actor, "authenticated", False):
                    out["Cache-Control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, counted, with_headers)
        except BodyTooLarge:
            if started:
                raise
            await too_big()(scope, receive, with_headers)

    def _insecure_dev_refusal(self, scope: Scope, headers: dict[str, str]) -> JSONResponse | None:
        if host_name(headers.get("host", "")) not in LOOPBACK_HOSTS:
            return _error(403, "FORBIDDEN", "insecure-dev mode answers only requests to localhost, "
                          "127.0.0.1 or [::1]")
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope["method"] == "POST" and scope["path"] == "/graphql" and content_type != "application/json":
            return _error(415, "BAD_USER_INPUT", "insecure-dev mode takes only application/json POSTs to /graphql")
        return None
