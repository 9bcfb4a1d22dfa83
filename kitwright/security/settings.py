"""Security settings from the environment (KITWRIGHT_*), with safe defaults.

Every setting is described in docs/security.md; the README's "Security" section lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def env_flag(name: str, default: bool) -> bool:
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


def _names(name: str) -> tuple[str, ...]:
    value = os.environ.get(name) or ""
    return tuple(part.strip() for part in value.split(",") if part.strip())


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
    # Where rate-limit buckets live: the database (default, shared by every worker and host
    # using it) or Redis when a URL is given.
    redis_url: str | None = None
    # Proxies whose X-Forwarded-For is believed (peer addresses); none by default.
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 64 * 1024 * 1024
    max_query_cost: int = 50_000
    request_seconds: float = 30.0
    query_cache_bytes: int = 32 * 1024 * 1024
    password_hash_slots: int = 2

    def __post_init__(self) -> None:
        if self.production and self.insecure_dev:
            raise ValueError("KITWRIGHT_INSECURE_DEV cannot be used with KITWRIGHT_PRODUCTION")
        if self.production and not self.secret_key:
            # A generated key kept in the database would let anyone who can read the database
            # forge a session cookie (docs/security.md).
            raise ValueError("KITWRIGHT_PRODUCTION needs KITWRIGHT_SECRET_KEY (a long random string)")

    @classmethod
    def from_env(cls) -> SecuritySettings:
        production = env_flag("KITWRIGHT_PRODUCTION", False)
        return cls(
            production=production,
            insecure_dev=env_flag("KITWRIGHT_INSECURE_DEV", False),
            introspection=env_flag("KITWRIGHT_INTROSPECTION", not production),
            graphiql=env_flag("KITWRIGHT_GRAPHIQL", not production),
            https_only=env_flag("KITWRIGHT_HTTPS_ONLY", production),
            secret_key=os.environ.get("KITWRIGHT_SECRET_KEY") or None,
            rate_per_minute=_number("KITWRIGHT_RATE_LIMIT", 600),
            rate_burst=_number("KITWRIGHT_RATE_BURST", 120),
            auth_rate_per_minute=_number("KITWRIGHT_AUTH_RATE_LIMIT", 20),
            redis_url=os.environ.get("KITWRIGHT_REDIS_URL") or None,
            trusted_proxies=_names("KITWRIGHT_TRUSTED_PROXIES"),
            max_body_bytes=int(_number("KITWRIGHT_MAX_BODY_BYTES", 1_000_000)),
            max_upload_bytes=int(_number("KITWRIGHT_MAX_UPLOAD_BYTES", 64 * 1024 * 1024)),
            max_query_cost=int(_number("KITWRIGHT_MAX_QUERY_COST", 50_000)),
            request_seconds=_number("KITWRIGHT_REQUEST_SECONDS", 30.0),
            query_cache_bytes=int(_number("KITWRIGHT_QUERY_CACHE_BYTES", 32 * 1024 * 1024)),
            password_hash_slots=int(_number("KITWRIGHT_PASSWORD_HASH_SLOTS", 2)),
        )
