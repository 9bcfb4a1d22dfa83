"""Marking a column written although its value did not change, without losing its old value.

A record whose derived status changes (kitted, released) keeps its columns, yet its etag must
change: the services mark a column written (`flag_modified`) so the flush updates the row and
the etag with it. SQLAlchemy then forgets the value the column had, and the flush listeners
(the availability change log, installed-follows-unit) would have to read it back. `touch`
keeps it in the session until the next flush ends; `value_before` is what the listeners ask.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.base import NO_VALUE

_TOUCHED = "kitwright_touched"


def touch(obj: Any, key: str) -> None:
    """`flag_modified(obj, key)`, remembering the value `key` had before this flush."""
    state: Any = inspect(obj)
    before = state.committed_state.get(key, state.dict.get(key, NO_VALUE))
    flag_modified(obj, key)
    session = state.session
    if before is not NO_VALUE and session is not None and state.key is not None:
        session.info.setdefault(_TOUCHED, {}).setdefault((state.key, key), before)


def value_before(session: Session, obj: Any, key: str) -> Any:
    """The value `key` had before the coming flush (NO_VALUE when the session does not hold it)."""
    state: Any = inspect(obj)
    if key not in state.committed_state:
        return state.dict.get(key, NO_VALUE)
    value = state.committed_state[key]
    if value is NO_VALUE and state.key is not None:
        value = session.info.get(_TOUCHED, {}).get((state.key, key), NO_VALUE)
    return value


def forget(session: Session, *_args: Any) -> None:
    """Drop what `touch` kept (after each flush, and when a unit of work begins)."""
    session.info.pop(_TOUCHED, None)
