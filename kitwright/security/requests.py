"""The request guard's policy, as pure functions of a request's method, path and headers: which
route a path is, what that route needs, whether the caller wants a page, and the bearer token
an Authorization header carries. The guard itself (kitwright.guard) applies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import compile_path

from kitwright.domain.errors import Unauthenticated
from kitwright.security.permissions import PUBLIC_ROUTES, ROUTE_PERMISSIONS, SIGNED_IN_ROUTES, Permission

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADERS = ("x-csrf-token", "x-csrftoken")


def _compile(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str, re.Pattern[str]]]:
    return [(method, path, compile_path(path)[0]) for method, path in keys]


_ROUTES = _compile(list(PUBLIC_ROUTES) + list(ROUTE_PERMISSIONS) + list(SIGNED_IN_ROUTES))


def route_template(method: str, path: str) -> str | None:
    for known_method, template, pattern in _ROUTES:
        if known_method == method and pattern.match(path):
            return template
    return None


def route_permission(method: str, template: str | None) -> Permission | None:
    """What the route needs; None for a route nobody listed (then only an admin may call it)."""
    if template is None:
        return None
    return ROUTE_PERMISSIONS.get((method, template)) or SIGNED_IN_ROUTES.get((method, template))


def wants_page(method: str, path: str, headers: dict[str, str]) -> bool:
    if method != "GET" or path.startswith("/api/"):
        return False
    return path != "/graphql" or "text/html" in headers.get("accept", "")


def is_form_post(method: str, path: str) -> bool:
    """A web page's form: refusals come back as a page in words, not JSON."""
    return method == "POST" and path not in ("/graphql", "/auth/token") and not path.startswith("/api/")


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
