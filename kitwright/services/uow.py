"""The unit of work: one transaction per use case, rolled back unless committed."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import UniqueConstraint, bindparam, event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from kitwright.domain.errors import BadInput, Conflict, NotFound
from kitwright.domain.limits import MAX_ID
from kitwright.domain.text import camel
from kitwright.services import audit, installed
from kitwright.services.actor import Actor, current_actor
from kitwright.store import touch
from kitwright.store.db import is_lock_conflict, sqlite_write_lock
from kitwright.store.models import Base, PartInventory, Versioned, status_expression

T = TypeVar("T", bound=Base)



# Constraint name -> (field, message) so a violation caught by the database reads like the
# same rule checked in Python.
CONSTRAINT_MESSAGES: dict[str, tuple[str, str]] = {
    "uq_part_inventory_serial": ("serialNumber", "serial number already exists for this part number"),
    "uq_part_number_revision": ("revision", "a part with this part number and revision exists"),
    "uq_supplier_name": ("name", "a supplier with this name exists"),
    "uq_unit_of_measure_name": ("name", "a unit of measure with this name exists"),
    "uq_app_user_name": ("name", "a user with this name exists"),
    "ck_part_inventory_quantity_not_negative": ("quantity", "quantity must not be negative"),
    "ck_part_inventory_serial_at_most_one": ("quantity", "a serial-tracked record holds 0 or 1"),
}


# Constraints whose violation means another writer got there first (CONFLICT), not bad input.
CONFLICT_CONSTRAINTS: set[str] = set()


def register_constraint(name: str, field: str, message: str, *, conflict: bool = False) -> None:
    CONSTRAINT_MESSAGES[name] = (field, message)
    if conflict:
        CONFLICT_CONSTRAINTS.add(name)


def translate_integrity_error(exc: IntegrityError) -> BadInput | Conflict:
    """A constraint the database enforced, as the same rule checked in Python would say it.

    PostgreSQL names the violated constraint; SQLite names it for CHECK constraints but gives
    only the columns of a violated unique rule, so those are matched to the schema's unique
    constraints and indexes on exactly those columns."""
    text = str(exc.orig)
    names = _violated_unique_rules(text) or [name for name in _rule_names() if name in text][:1]
    registered = [name for name in names if name in CONSTRAINT_MESSAGES]
    if registered:  # more than one only when SQLite's columns fit several partial unique indexes
        message = " or ".join(dict.fromkeys(CONSTRAINT_MESSAGES[name][1] for name in registered))
        field = CONSTRAINT_MESSAGES[registered[0]][0]
        return Conflict(message, field=field) if registered[0] in CONFLICT_CONSTRAINTS else BadInput(message, field=field)
    for name in names:
        if name in _unique_rules():
            table, columns = _unique_rules()[name]
            return BadInput(
                f"another {table.replace('_', ' ')} has this "
                f"{' and '.join(column.replace('_', ' ') for column in columns)} (not unique)",
                field=camel(columns[-1]),
            )
    return BadInput("the change breaks a database rule: " + text.splitlines()[0][:200])


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '(?P<index>[^']+)'|(?P<columns>[\w., ]+))")


def _violated_unique_rules(text: str) -> list[str]:
    """The names of the unique rules an SQLite message may mean (several when unique indexes
    share their columns, e.g. partial ones), in name order: a table's indexes are a set."""
    found = _SQLITE_UNIQUE.search(text)
    if found is None:
        return []
    if found["index"]:
        return [found["index"]]
    pairs = [item.strip().split(".", 1) for item in found["columns"].split(",")]
    if any(len(pair) != 2 for pair in pairs):
        return []
    table, columns = pairs[0][0], tuple(column for _table, column in pairs)
    return sorted(name for name, rule in _unique_rules().items() if rule == (table, columns))


@cache
def _unique_rules() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every named unique constraint and unique index of the schema: name -> (table, columns)."""
    rules: dict[str, tuple[str, tuple[str, ...]]] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and isinstance(constraint.name, str):
                rules[constraint.name] = (table.name, tuple(column.name for column in constraint.columns))
        for index in table.indexes:
            if index.unique and isinstance(index.name, str):
                rules[index.name] = (table.name, tuple(column.name for column in index.columns))
    return rules


def _rule_names() -> list[str]:
    """Registered and schema rule names, longest first: no name is read inside a longer one."""
    return sorted({*CONSTRAINT_MESSAGES, *_unique_rules()}, key=len, reverse=True)


@contextmanager
def lock_conflict(message: str, *, field: str | None = None) -> Iterator[None]:
    """Around a locking read: a lock the database could not give (deadlock, lock timeout)
    answers CONFLICT with `message`; any other database error (unreachable, not migrated)
    goes on as it is, since trying again would not help."""
    try:
        yield
    except OperationalError as exc:
        if not is_lock_conflict(exc):
            raise
        raise Conflict(message, field=field) from None


class UnitOfWork:
    """Wraps a session for one write transaction.

    Use as `with UnitOfWork(session, actor) as uow: …; uow.commit()`. Leaving the block
    without commit rolls back, so a raised error never leaves half a change behind.
    """

    def __init__(self, session: Session, actor: Actor | None = None, *, keep_loaded: bool = False) -> None:
        self.session = session
        self.actor = actor if actor is not None else current_actor.get()
        # The API answers with the rows it just wrote: keep them loaded at commit (their status
        # read again inside the transaction) instead of reading them back in a new transaction.
        self.keep_loaded = keep_loaded
        self._stack = ExitStack()

    def __enter__(self) -> UnitOfWork:
        if self.session.in_transaction():
            # A read-only transaction from earlier in the request: end it so this one begins
            # with the write lock (SQLite) and sees the latest committed rows.
            self.session.rollback()
        elif self.session.info.pop(_KEPT_LOADED, False):
            # Rows kept loaded by an earlier commit: every unit of work reads afresh.
            self.session.expire_all()
        self.session.info.pop(BULK_WRITE, None)
        touch.forget(self.session)
        self._stack.enter_context(sqlite_write_lock())
        self.session.begin()
        installed.forget_moves(self.session)
        _watch(self.session)
        self.session.info["actor"] = self.actor
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.session.in_transaction():
                self.session.rollback()
        finally:
            self.session.info.pop("actor", None)
            installed.forget_moves(self.session)
            self._stack.close()

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as error:
            raise translate_integrity_error(error) from None
        except StaleDataError:
            raise Conflict("the object changed since it was read; fetch it again") from None

    def commit(self) -> None:
        self.flush()
        # What is installed in a moved unit moves with it (services.installed).
        installed.follow_units(self.session, self.actor.id, self.actor.name)
        keep = self.keep_loaded and not self.session.info.get(BULK_WRITE)
        if keep:
            self.flush()
            _refresh_statuses(self.session)
        self.session.expire_on_commit = not keep
        try:
            self.session.commit()
        except IntegrityError as error:
            raise translate_integrity_error(error) from None
        finally:
            self.session.expire_on_commit = True
        if keep:
            self.session.info[_KEPT_LOADED] = True

    # -- loading ------------------------------------------------------------------------
    def get(self, model: type[T], id: int, *, field: str = "id", lock: bool = False) -> T:
        return get(self.session, model, id, field=field, lock=lock)

    def lock_many(self, model: type[T], ids: list[int]) -> list[T]:
        """Lock rows in ascending id order (docs/rules.md#r6: a single global lock order)."""
        stmt = select(model).where(model.id.in_(sorted(set(ids)))).order_by(model.id)  # type: ignore[attr-defined]
        return list(self.session.scalars(stmt.with_for_update()))


# Set in session.info when a statement other than the ORM's own flush wrote rows (bulk UPDATE /
# DELETE through the session, or Core writes that call `mark_bulk_write`): rows held in memory
# may then differ from the database, and the commit expires them all, as by default.
BULK_WRITE = "kitwright_bulk_write"
_KEPT_LOADED = "kitwright_kept_loaded"


def mark_bulk_write(session: Session) -> None:
    session.info[BULK_WRITE] = True


def _note_bulk_writes(state: ORMExecuteState) -> None:
    if not state.is_select:
        mark_bulk_write(state.session)


# Built once: building the status CASE's statement cost more CPU than running it.
_STATUSES = select(PartInventory.id, status_expression()).where(
    PartInventory.id.in_(bindparam("ids", expanding=True)))


def _refresh_statuses(session: Session) -> None:
    """The derived status of every inventory record held by the session, read inside the
    transaction (the status follows links and locations, not only the record's own row)."""
    records = {obj.id: obj for obj in session.identity_map.values()
               if isinstance(obj, PartInventory) and "id" in obj.__dict__}
    if not records:
        return
    for id_, status in session.connection().execute(_STATUSES, {"ids": sorted(records)}):
        set_committed_value(records[id_], "status", status)


def get(session: Session, model: type[T], id: int, *, field: str = "id", lock: bool = False) -> T:
    label = model.__name__
    if not 0 < id <= MAX_ID:
        raise NotFound(f"{label} {id} does not exist", field=field)
    if not lock:
        # A row already loaded in this transaction is used as loaded (a SELECT would not
        # refresh it either); others are read by primary key.
        found = session.get(model, id)
        if found is None:
            raise NotFound(f"{label} {id} does not exist", field=field)
        return found
    stmt = select(model).where(model.id == id).with_for_update()  # type: ignore[attr-defined]
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(f"{label} {id} does not exist", field=field)
    return row


def check_updatable(changes: Mapping[str, object], allowed: Collection[str]) -> None:
    """Refuse a change to a field the use case does not update, naming it as the API does."""
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        head, *rest = unknown[0].split("_")
        name = head + "".join(part.title() for part in rest)
        raise BadInput(f"cannot update {name}", field=name)


def check_etag(row: Versioned, etag: str | None, *, required: bool = True) -> None:
    """A write carrying a stale etag changes nothing and answers CONFLICT."""
    if etag is None:
        if required:
            raise BadInput("etag is required", field="etag")
        return
    if etag != row.etag:
        raise Conflict(
            f"{type(row).__name__} {getattr(row, 'id', '?')} changed since it was read "
            "(stale etag); fetch it again",
            field="etag",
        )


def _watch(session: Session) -> None:
    """From its first unit of work on, a session's flushes, commits and transaction ends run the
    listeners below (`_listeners`)."""
    session.info[_WATCHED] = True


_WATCHED = "kitwright_watched"


def _when_watched(name: str) -> Callable[..., None]:
    def listener(session: Session, *args: Any) -> None:
        if session.info.get(_WATCHED):
            for fn in _listeners()[name]:
                fn(session, *args)
    return listener


def _note_bulk_writes_when_watched(state: ORMExecuteState) -> None:
    if state.session.info.get(_WATCHED):
        _note_bulk_writes(state)


@cache
def _listeners() -> dict[str, tuple[Callable[..., None], ...]]:
    """What every flush of a unit of work's session does, in this order, here and nowhere else
    (docs/architecture.md): audit it naming the actor, run the enabled rules (actions), note
    moved records so installed ones follow, log supply changes for kitAvailabilityChanges, and
    forget the old values `store.touch` kept. (Built on first use: actions and the change log
    import this module.)"""
    return {
        "before_flush": (audit.read_forgotten_values, _actions.run_rules_on_flush, installed.note_flushed_moves,
                         _availability_changes.note_old_places),
        "after_flush": (audit.audit_flush, _availability_changes.note_flushed_changes),
        "after_flush_postexec": (touch.forget,),
        "before_commit": (_availability_changes.write_before_commit,),
        "after_transaction_end": (_actions.forget_rules_on_end, _availability_changes.forget_on_end),
    }


# Registered once on the Session class, not on each session: attaching them to every request's
# new session cost more CPU than some of its statements.
for _name in ("before_flush", "after_flush", "after_flush_postexec", "before_commit", "after_transaction_end"):
    event.listen(Session, _name, _when_watched(_name))
event.listen(Session, "do_orm_execute", _note_bulk_writes_when_watched)

# Imported last: both build on the names above.
from kitwright.services import actions as _actions  # noqa: E402
from kitwright.services import availability_changes as _availability_changes  # noqa: E402
