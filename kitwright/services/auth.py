"""Users, passwords, API keys and bearer tokens; who is acting.

- Passwords are argon2id hashes (argon2-cffi).
- An API key is a public client id and a secret shown once; only the secret's SHA-256 is
  stored (the secret holds 256 random bits, so a slow hash buys nothing and would cost every
  request). A key may expire and be revoked.
- `POST /auth/token` exchanges a key for a short-lived bearer token (OAuth2 client
  credentials); the token too is stored as a SHA-256 only. A key's secret also works directly
  as `Authorization: Bearer <secret>`.
- Rights are computed on every request from the user's *current* role (narrowed by the key's
  own role when it has one): demoting or deactivating a user takes effect at once for all of
  their keys, tokens and sessions; revoking a key ends its tokens.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, bindparam, delete, literal, select
from sqlalchemy.orm import Session

from kitwright.domain.errors import BadInput, NotFound, Unauthenticated
from kitwright.security.permissions import ADMIN_ROLE, ROLES, Permission, role_permissions
from kitwright.services.actor import SYSTEM, Actor
from kitwright.services.uow import UnitOfWork
from kitwright.store.models import AccessToken, ApiKey, User, WebSession, utcnow

KEY_SECRET_PREFIX = "kws_"
TOKEN_PREFIX = "kwt_"
CLIENT_ID_PREFIX = "kwk_"
TOKEN_TTL = timedelta(hours=1)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_CREDENTIAL = 200
_NAME = re.compile(r"^[\w.@+-]{1,200}$")

_hasher = PasswordHasher()
# argon2 takes ~100 MB and a core per hash: at most this many run at once in a process, the
# rest wait their turn (KITWRIGHT_PASSWORD_HASH_SLOTS, docs/security.md).
_hash_slots = threading.BoundedSemaphore(2)


def set_password_hash_slots(slots: int) -> None:
    global _hash_slots
    _hash_slots = threading.BoundedSemaphore(max(1, slots))
# Verified against when the user does not exist, so a wrong name costs as long as a wrong
# password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; every stored time is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def hash_password(password: str) -> str:
    with _hash_slots:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        with _hash_slots:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def session_marker(user: User) -> str:
    """Changes when the password changes, so old sign-in cookies stop working."""
    return _sha256(f"session:{user.id}:{user.password_hash or ''}")[:16]


# -- users ---------------------------------------------------------------------------------


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"the password must have at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise BadInput(f"the password must have at most {MAX_PASSWORD} characters", field="password")


def _check_role(role: str, field: str = "role") -> str:
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}", field=field)
    return role


def create_user(uow: UnitOfWork, name: str, role: str, password: str | None = None) -> User:
    name = name.strip()
    if not _NAME.match(name):
        raise BadInput("a user name is 1-200 letters, digits or . @ + - _", field="name")
    _check_role(role)
    if password is not None:
        check_password(password)
    user = User(name=name, role=role, active=True,
                password_hash=hash_password(password) if password is not None else None)
    uow.session.add(user)
    uow.commit()
    return user


def find_user(session: Session, ref: str | int) -> User:
    text = str(ref).strip()
    user = session.scalar(select(User).where(User.name == text))
    if user is None and text.isascii() and text.isdigit() and len(text) < 10:
        user = session.get(User, int(text))
    if user is None:
        raise NotFound(f"user {text!r} does not exist", field="user")
    return user


def _changeable(uow: UnitOfWork, ref: str | int) -> User:
    user = find_user(uow.session, ref)
    if user.id == SYSTEM.id:
        raise BadInput("the built-in system user cannot be changed", field="user")
    return user


def set_role(uow: UnitOfWork, ref: str | int, role: str) -> User:
    user = _changeable(uow, ref)
    user.role = _check_role(role)
    uow.commit()
    return user


def set_active(uow: UnitOfWork, ref: str | int, active: bool) -> User:
    user = _changeable(uow, ref)
    user.active = active
    uow.commit()
    return user


def set_password(uow: UnitOfWork, ref: str | int, password: str) -> User:
    user = _changeable(uow, ref)
    check_password(password)
    user.password_hash = hash_password(password)
    uow.commit()
    return user


# -- API keys and tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    client_id: str
    secret: str  # shown once, never stored


def create_api_key(
    uow: UnitOfWork, user_ref: str | int, *, name: str = "", expires_days: int | None = None,
    role: str | None = None,
) -> NewApiKey:
    user = _changeable(uow, user_ref)
    if not user.active:
        raise BadInput(f"user {user.name} is deactivated", field="user")
    if role is not None:
        _check_role(role)
    if expires_days is not None and not 0 < expires_days <= 3650:
        raise BadInput("expiresDays must be between 1 and 3650", field="expiresDays")
    if len(name) > 200:
        raise BadInput("a key name has at most 200 characters", field="name")
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(8)
    secret = KEY_SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        client_id=client_id, secret_hash=_sha256(secret), user_id=user.id, name=name, role=role,
        expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
    )
    uow.session.add(key)
    uow.commit()
    return NewApiKey(key=key, client_id=client_id, secret=secret)


def find_api_key(session: Session, ref: str | int) -> ApiKey:
    text = str(ref).strip()
    key = session.scalar(select(ApiKey).where(ApiKey.client_id == text))
    if key is None and text.isascii() and text.isdigit() and len(text) < 10:
        key = session.get(ApiKey, int(text))
    if key is None:
        raise NotFound(f"API key {text!r} does not exist", field="id")
    return key


def revoke_api_key(uow: UnitOfWork, ref: str | int) -> ApiKey:
    key = find_api_key(uow.session, ref)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        uow.session.execute(delete(AccessToken).where(AccessToken.api_key_id == key.id))
        uow.commit()
    return key


def _usable(key: ApiKey, user: User, now: datetime) -> bool:
    expires = _aware(key.expires_at)
    return key.revoked_at is None and (expires is None or expires > now) and user.active


def actor_for(user: User, key: ApiKey | None = None) -> Actor:
    """The rights in force: the user's current role, narrowed by the key's role if any."""
    if key is None:
        return _actor(user.id, user.name, user.role, None, None, None)
    return _actor(user.id, user.name, user.role, key.id, key.client_id, key.role)


def _actor(user_id: int, user_name: str, user_role: str, key_id: int | None, client_id: str | None,
           key_role: str | None) -> Actor:
    permissions = role_permissions(user_role)
    role, narrowed_by = user_role, None
    if key_id is not None and key_role is not None and key_role != user_role:
        permissions = permissions & role_permissions(key_role)
        # An admin user's key limited to a role acts as that role; a lesser user's key never
        # rises above the user (the intersection above), nor above its own role in the kit
        # rules, which judge by role: both roles must allow there.
        if user_role == ADMIN_ROLE:
            role = key_role
        else:
            narrowed_by = key_role
    name = user_name if key_id is None else f"{user_name} via key {client_id}"
    return Actor(
        id=user_id, name=name, role=role, permissions=_permission_names(permissions), api_key_id=key_id,
        key_role=narrowed_by,
    )


@functools.cache
def _permission_names(permissions: frozenset[Permission]) -> frozenset[str]:
    return frozenset(str(p) for p in permissions)


def issue_token(session: Session, client_id: str, secret: str) -> tuple[str, int]:
    """Client credentials -> (bearer token, seconds it lives). Any failure reads the same."""
    refused = Unauthenticated("invalid client credentials")
    if not client_id or not secret or len(client_id) > MAX_CREDENTIAL or len(secret) > MAX_CREDENTIAL:
        raise refused
    with UnitOfWork(session, SYSTEM) as uow:
        row = session.execute(
            select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.client_id == client_id)
        ).one_or_none()
        if row is None:
            raise refused
        key, user = row
        now = utcnow()
        if not hmac.compare_digest(_sha256(secret), key.secret_hash) or not _usable(key, user, now):
            raise refused
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        session.execute(delete(AccessToken).where(AccessToken.api_key_id == key.id, AccessToken.expires_at < now))
        session.add(AccessToken(token_hash=_sha256(token), api_key_id=key.id, expires_at=now + TOKEN_TTL))
        uow.commit()
    return token, int(TOKEN_TTL.total_seconds())


def authenticate_bearer(connection: Connection, token: str) -> Actor:
    """`Authorization: Bearer <token or key secret>` -> the acting user or key.

    Every request reads the key, its user and (for a token) the token afresh, so revoking a
    key, deactivating or demoting a user takes effect on the next request. One Core SELECT of
    the columns needed, on a plain connection (no ORM session or objects: this runs on every
    request, docs/security.md; on PostgreSQL the caller's connection may be in autocommit, so
    the one SELECT needs no BEGIN and ROLLBACK around it)."""
    refused = Unauthenticated("the bearer token is invalid, expired or revoked")
    if len(token) > MAX_CREDENTIAL:
        raise refused
    stmt: Any
    if token.startswith(TOKEN_PREFIX):
        stmt = _BY_TOKEN
    elif token.startswith(KEY_SECRET_PREFIX):
        stmt = _BY_KEY_SECRET
    else:
        raise refused
    digest = _sha256(token)
    now = utcnow()
    row = connection.execute(stmt, {"digest": digest}).one_or_none()
    if row is None:
        raise refused
    token_expires, key_id, client_id, key_role, key_expires, revoked_at, user_id, name, role, active = row
    if token.startswith(TOKEN_PREFIX):
        expires = _aware(token_expires)
        if expires is None or expires <= now:
            raise refused
    key_expires = _aware(key_expires)
    if revoked_at is not None or (key_expires is not None and key_expires <= now) or not active:
        raise refused
    return _actor(user_id, name, role, key_id, client_id, key_role)


_CALLER = (ApiKey.id, ApiKey.client_id, ApiKey.role, ApiKey.expires_at, ApiKey.revoked_at,
           User.id, User.name, User.role, User.active)
# Built once: a statement object reused keeps its compiled form's cache key (it runs on every
# request).
_BY_TOKEN = (
    select(AccessToken.expires_at, *_CALLER)
    .join(ApiKey, ApiKey.id == AccessToken.api_key_id)
    .join(User, User.id == ApiKey.user_id)
    .where(AccessToken.token_hash == bindparam("digest"))
)
_BY_KEY_SECRET = select(literal(None), *_CALLER).join(User, User.id == ApiKey.user_id).where(
    ApiKey.secret_hash == bindparam("digest"))


def authenticate_password(session: Session, name: str, password: str) -> User | None:
    """The user whose name and password these are, if active; None otherwise (same cost)."""
    if len(name) > MAX_CREDENTIAL or len(password) > MAX_PASSWORD:
        return None
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None or user.id == SYSTEM.id:
        verify_password(None, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    return user


SESSION_TTL = timedelta(hours=8)


def start_web_session(session: Session, user_id: int, ttl: timedelta = SESSION_TTL) -> str:
    """A new server-side session for a signed-in user; returns its id (for the cookie)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    with UnitOfWork(session, SYSTEM) as uow:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(WebSession(token_hash=_sha256(sid), user_id=user_id, expires_at=now + ttl))
        uow.commit()
    return sid


def end_web_session(session: Session, sid: object) -> None:
    """Sign-out: the session ends on the server, so a copy of the cookie stops working."""
    if not isinstance(sid, str) or len(sid) > MAX_CREDENTIAL:
        return
    with UnitOfWork(session, SYSTEM) as uow:
        session.execute(delete(WebSession).where(WebSession.token_hash == _sha256(sid)))
        uow.commit()


def session_actor(session: Session, user_id: object, marker: object, sid: object = None) -> Actor | None:
    """The signed-in user of a live web session, while active and with an unchanged password."""
    if not isinstance(user_id, int) or not isinstance(marker, str) or not isinstance(sid, str):
        return None
    if len(sid) > MAX_CREDENTIAL:
        return None
    live = session.scalar(select(WebSession).where(WebSession.token_hash == _sha256(sid)))
    if live is None or live.user_id != user_id or (_aware(live.expires_at) or utcnow()) <= utcnow():
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or user.id == SYSTEM.id:
        return None
    if not hmac.compare_digest(session_marker(user), marker):
        return None
    return actor_for(user)


# -- the session signing key ------------------------------------------------------------------


def app_secret(session: Session, name: str) -> str:
    """A secret generated on first use and kept in the database, shared by every worker.

    Call with a session that has no transaction open; the first writer wins a race."""
    from sqlalchemy.exc import IntegrityError

    from kitwright.store.models import AppSecret

    found = session.get(AppSecret, name)
    if found is not None:
        return found.value
    value = secrets.token_urlsafe(48)
    session.add(AppSecret(name=name, value=value))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        stored = session.get(AppSecret, name)
        assert stored is not None
        return stored.value
    return value
