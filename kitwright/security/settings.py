"""Security settings from the environment (KITWRIGHT_*), with safe defaults.

| variable | default | meaning |
|---|---|---|
| KITWRIGHT_PRODUCTION | 0 | 1: introspection and GraphiQL off, cookies HTTPS-only, no --insecure-dev |
| KITWRIGHT_INTROSPECTION | !production | 0/1: allow `__schema` / `__type` queries |
| KITWRIGHT_GRAPHIQL | !production | 0/1: serve GraphiQL at GET /graphql |
| KITWRIGHT_HTTPS_ONLY | production | 0/1: send the session cookie over HTTPS only |
| KITWRIGHT_SECRET_KEY | generated | signs session cookies; generated once and kept in the database if unset |
| KITWRIGHT_RATE_LIMIT | 600 | requests per minute per API key / user (token bucket, per worker process) |
| KITWRIGHT_RATE_BURST | 120 | requests a credential may send at once |
| KITWRIGHT_AUTH_RATE_LIMIT | 20 | sign-in / token / bad-credential attempts per minute per client address |
| KITWRIGHT_INSECURE_DEV | 0 | 1: every request acts as an admin "dev" user (`kitwright serve --insecure-dev`) |

Rate limits live in each worker process: with N workers a client may get up to N times the
limit. Put a shared limiter in front (proxy) if that matters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    number = float(value)
    if number <= 0:
        raise ValueError(f"{name} must be positive")
    return number


@dataclass(frozen=True)
class SecuritySettings:
    production: bool = False
    insecure_dev: bool = False
    introspection: bool = True
    graphiql: bool = True
    https_only: bool = False
    secret_key: str | None = None
    rate_per_minute: float = 600
    rate_burst: float = 120
    auth_rate_per_minute: float = 20
    session_max_age: int = 8 * 3600

    def __post_init__(self) -> None:
        if self.production and self.insecure_dev:
            raise ValueError("KITWRIGHT_INSECURE_DEV cannot be used with KITWRIGHT_PRODUCTION")

    @classmethod
    def from_env(cls) -> SecuritySettings:
        production = _flag("KITWRIGHT_PRODUCTION", False)
        return cls(
            production=production,
            insecure_dev=_flag("KITWRIGHT_INSECURE_DEV", False),
            introspection=_flag("KITWRIGHT_INTROSPECTION", not production),
            graphiql=_flag("KITWRIGHT_GRAPHIQL", not production),
            https_only=_flag("KITWRIGHT_HTTPS_ONLY", production),
            secret_key=os.environ.get("KITWRIGHT_SECRET_KEY") or None,
            rate_per_minute=_number("KITWRIGHT_RATE_LIMIT", 600),
            rate_burst=_number("KITWRIGHT_RATE_BURST", 120),
            auth_rate_per_minute=_number("KITWRIGHT_AUTH_RATE_LIMIT", 20),
        )
