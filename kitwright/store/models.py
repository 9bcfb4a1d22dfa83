"""SQLAlchemy 2 mappings.

Rules that the database can hold are declared here as constraints too (docs/rules.md#r6), so a
bug in a service, a raw import or a race cannot write a negative quantity or a duplicate serial.
Quantities are integer millionths (see `types.Quantity`): the CHECKs below compare millionths.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    column,
    false,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    column_property,
    declared_attr,
    mapped_column,
    relationship,
)
from sqlalchemy.sql.elements import ColumnElement

from kitwright.domain.quantities import FACTOR
from kitwright.store.types import Quantity, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_etag() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Versioned:
    """Objects clients may update: `etag` changes on every write.

    SQLAlchemy's version counter makes every UPDATE conditional on the etag read, so a write
    racing past a service's own check still fails instead of overwriting (docs/rules.md#r6).
    """

    etag: Mapped[str] = mapped_column(String(32), default=new_etag, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {
            "version_id_col": cls.__table__.c.etag,  # type: ignore[attr-defined]
            "version_id_generator": lambda _version: new_etag(),
        }


class User(Base):
    """A person or machine account. `role` names a set of permissions (security.permissions);
    `password_hash` is an argon2 hash (None: signs in with API keys only)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="viewer", server_default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class UnitOfMeasure(Versioned, Base):
    __tablename__ = "unit_of_measure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    abbreviation: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Supplier(Versioned, Base):
    __tablename__ = "supplier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # ION's key/value attributes: [{"key", "value", "type"}] (docs/ion-compatibility.md)
    attributes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class Location(Versioned, Base):
    """A node of the location tree; a root is a site.

    `path` ("/1/5/17/") and `site_id` are kept by the location service so subtree and per-site
    questions are one indexed predicate instead of a recursive walk.
    """

    __tablename__ = "location"
    __table_args__ = (Index("ix_location_path", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(Integer, index=True)
    path: Mapped[str] = mapped_column(String(1000), default="")
    inventory_available: Mapped[bool] = mapped_column(Boolean, default=True)
    available_soon: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Location | None] = relationship(remote_side=[id], lazy="raise_on_sql")


class Part(Versioned, Base):
    __tablename__ = "part"
    __table_args__ = (
        UniqueConstraint("part_number", "revision", name="uq_part_number_revision"),
        CheckConstraint(
            "tracking_type IN ('SERIAL', 'LOT', 'UNTRACKED')", name="tracking_type"
        ),
        CheckConstraint("fulfilment_order IN ('FIFO', 'FEFO')", name="fulfilment_order"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_number: Mapped[str] = mapped_column(String(200), index=True)
    revision: Mapped[str] = mapped_column(String(50), default="")
    description: Mapped[str | None] = mapped_column(Text)
    tracking_type: Mapped[str] = mapped_column(String(10))
    unit_of_measure_id: Mapped[int | None] = mapped_column(ForeignKey("unit_of_measure.id"))
    cost: Mapped[Decimal | None] = mapped_column(Quantity)
    is_digital: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    supplier_part_number: Mapped[str | None] = mapped_column(String(200))
    # ION's key/value attributes: [{"key", "value", "type"}] (docs/ion-compatibility.md)
    attributes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The order fulfilment uses its records in: domain.kits.FulfilmentOrder (FIFO or FEFO).
    fulfilment_order: Mapped[str] = mapped_column(String(4), default="FIFO", server_default="FIFO")

    unit_of_measure: Mapped[UnitOfMeasure | None] = relationship(lazy="raise_on_sql")


class PartComponent(Base):
    """One component of a kit definition / BOM: `quantity` of `component` per one `part`."""

    __tablename__ = "part_component"
    __table_args__ = (
        UniqueConstraint("part_id", "component_part_id", name="uq_part_component"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("part_id <> component_part_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id", ondelete="CASCADE"), index=True)
    component_part_id: Mapped[int] = mapped_column(ForeignKey("part.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)


class PartInventory(Versioned, Base):
    """One inventory record: a serial, a lot at a location, or an untracked quantity.

    Its status is derived (domain.status), never stored.
    """

    __tablename__ = "part_inventory"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint(
            f"serial_number IS NULL OR quantity <= {FACTOR}", name="serial_at_most_one"
        ),
        # Serial numbers are unique per part *number*, across its revisions.
        UniqueConstraint("part_number", "serial_number", name="uq_part_inventory_serial"),
        Index("ix_part_inventory_part_created", "part_id", "created_at", "id"),
        # Pages of a location subtree in stock-age order.
        Index("ix_part_inventory_location_created", "location_id", "created_at", "id"),
        # Records that can be supply (FIFO fulfilment, availability): most records, over time,
        # are consumed, scrapped or still on order. With location_id in it, the rest of the
        # AVAILABLE test (the location's flag, the holds) needs no read of the record itself:
        # counting a part's available records read every one of them from the table before.
        Index(
            "ix_part_inventory_in_stock", "part_id", "created_at", "id", "location_id",
            postgresql_where=text("NOT scrapped AND NOT on_order AND quantity > 0"),
            sqlite_where=text("scrapped = 0 AND on_order = 0 AND quantity > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    # Copy of the part's number, kept so the database itself holds serial uniqueness.
    part_number: Mapped[str] = mapped_column(String(200))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("supplier.id"))
    unit_of_measure_id: Mapped[int | None] = mapped_column(ForeignKey("unit_of_measure.id"))
    serial_number: Mapped[str | None] = mapped_column(String(200))
    lot_number: Mapped[str | None] = mapped_column(String(200), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    cost: Mapped[Decimal | None] = mapped_column(Quantity)
    usage_type: Mapped[str | None] = mapped_column(String(50))
    segment: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    on_order: Mapped[bool] = mapped_column(Boolean, default=False)
    expected_at: Mapped[date | None] = mapped_column(Date)
    # When the stock expires; FEFO parts are fulfilled earliest expiry first.
    expiration_date: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scrapped: Mapped[bool] = mapped_column(Boolean, default=False)
    how_created: Mapped[str] = mapped_column(String(20), default="CREATED")
    origin_part_inventory_id: Mapped[int | None] = mapped_column(
        ForeignKey("part_inventory.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    part: Mapped[Part] = relationship(lazy="raise_on_sql")
    location: Mapped[Location | None] = relationship(lazy="raise_on_sql")

    if TYPE_CHECKING:
        status: str  # a column_property, see status_expression


class NumberSequence(Base):
    """Counters behind autogenerated serial and lot numbers (never reused)."""

    __tablename__ = "number_sequence"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)


class LedgerEntry(Base):
    """One immutable row per change of an inventory record (docs/rules.md#r4).

    `before` and `after` are snapshots of the record (None when it did not / no longer exist),
    so replaying the entries in id order reproduces every record. Triggers created by the
    migration refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_inventory", "part_inventory_id", "id"),
        Index("ix_ledger_entry_part", "part_id", "id"),
        Index("ix_ledger_entry_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(50))
    part_inventory_id: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[int | None] = mapped_column(Integer, index=True)
    references: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AvailabilityChange(Base):
    """One supply change that can move kit figures, written in the transaction that made it
    (services.availability_changes; docs/retail.md, "Changes"). Exactly one target:
    `part_id` + `location_id` (that part's supply under that location's site), `site_id`
    (every kit at a site: a location's flags or place changed) or `kit_id` (every site of a
    kit: its definition changed).

    `xid` is the writing transaction's id on PostgreSQL (null on SQLite): ids come from a
    sequence before commit and may become visible out of order, so readers page on the
    snapshot horizon instead (see `services.availability_changes`).
    """

    __tablename__ = "availability_change"
    __table_args__ = (Index("ix_availability_change_xid", "xid"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    xid: Mapped[int | None] = mapped_column(BigInteger)
    part_id: Mapped[int | None] = mapped_column(Integer)
    location_id: Mapped[int | None] = mapped_column(Integer)
    site_id: Mapped[int | None] = mapped_column(Integer)
    kit_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AvailabilityChangeMark(Base):
    """A point of the change log and when it was taken (services.availability_changes):
    `position` is the snapshot of committed transactions on PostgreSQL, the last committed
    note id on SQLite. Pruning deletes only notes a mark older than the retention had seen,
    so every token young enough to be accepted has seen them too."""

    __tablename__ = "availability_change_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    position: Mapped[str] = mapped_column(Text)


# --------------------------------------------------------------------------- kits

class PartKit(Versioned, Base):
    """A request for parts delivered together. `run_id` is a plain reference
    until runs exist (no foreign key yet)."""

    __tablename__ = "part_kit"
    __table_args__ = (
        CheckConstraint(
            "status IN ('DRAFT', 'REQUESTED', 'IN_PROGRESS', 'DELIVERED', 'COMPLETED', 'CANCELED')",
            name="status",
        ),
        CheckConstraint("status <> 'DELIVERED' OR delivery_location_id IS NOT NULL",
                        name="delivered_has_location"),
        Index("ix_part_kit_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="DRAFT")
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    staging_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    delivery_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    current_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    priority: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class PartKitItem(Versioned, Base):
    """One requested line of a kit: `quantity` of `part`."""

    __tablename__ = "part_kit_item"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_kit_id: Mapped[int] = mapped_column(
        ForeignKey("part_kit.id", ondelete="CASCADE"), index=True
    )
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PartKitInventory(Base):
    """An inventory record issued to a kit item, holding `issued_quantity` (= the record's
    quantity while held). `released` once the kit closed: kept as history, reserves nothing.
    The partial unique index holds "a record is held by at most one kit" (docs/rules.md#r3)."""

    __tablename__ = "part_kit_inventory"
    __table_args__ = (
        CheckConstraint("issued_quantity > 0", name="issued_positive"),
        Index(
            "uq_part_kit_inventory_held",
            "part_inventory_id",
            unique=True,
            sqlite_where=text("released = 0"),
            postgresql_where=text("released = false"),
        ),
        Index("ix_part_kit_inventory_record", "part_inventory_id", "id"),
        Index("ix_part_kit_inventory_item", "part_kit_item_id", "id"),
        Index("ix_part_kit_inventory_kit", "part_kit_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_kit_id: Mapped[int] = mapped_column(ForeignKey("part_kit.id", ondelete="CASCADE"))
    part_kit_item_id: Mapped[int] = mapped_column(
        ForeignKey("part_kit_item.id", ondelete="CASCADE")
    )
    part_inventory_id: Mapped[int] = mapped_column(
        ForeignKey("part_inventory.id", ondelete="CASCADE")
    )
    issued_quantity: Mapped[Decimal] = mapped_column(Quantity)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderAllocationInventory(Base):
    """An inventory record held by a retail order line's allocation (docs/retail-orders.md):
    `quantity` equals the record's quantity while held. Released when the kits ship, are
    shorted or canceled. Declared here because the derived status (ALLOCATED) needs it."""

    __tablename__ = "order_allocation_inventory"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index(
            "uq_order_allocation_inventory_held",
            "part_inventory_id",
            unique=True,
            sqlite_where=text("released = 0"),
            postgresql_where=text("released = false"),
        ),
        Index("ix_order_allocation_inventory_allocation", "allocation_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("order_allocation.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(Integer, index=True)
    part_id: Mapped[int] = mapped_column(Integer)
    part_inventory_id: Mapped[int] = mapped_column(ForeignKey("part_inventory.id", ondelete="CASCADE"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    released: Mapped[bool] = mapped_column(Boolean, default=False)


def location_available_here() -> ColumnElement[bool]:
    """The record's location counts its stock: a primary-key probe per row.

    Not `location_id IN (SELECT id FROM location WHERE inventory_available)`: SQLite first reads
    every location for it (about 7 ms at 5,000 locations, on every page), and beside a
    `locationId in [...]` filter it walks the location index with the list of every available
    location instead of the filter's, reading nearly every record (bench/README.md). PostgreSQL
    plans both forms as the same semi-join.
    """
    return (
        select(Location.id)
        .where(Location.id == PartInventory.location_id, Location.inventory_available == True)  # noqa: E712
        .correlate_except(Location)  # its own location row, even in a query that joins location
        .exists()
    )


def location_unavailable_expression() -> ColumnElement[bool]:
    """No location, or one whose stock does not count."""
    return or_(PartInventory.location_id.is_(None), ~location_available_here())


def kitted_expression() -> ColumnElement[bool]:
    """Issued to a kit that is not closed: an unreleased link (closing a kit releases its
    links, and reopening never re-reserves them, so unreleased <=> held by an open kit)."""
    return (
        select(PartKitInventory.id)
        .where(
            PartKitInventory.part_inventory_id == PartInventory.id,
            PartKitInventory.released == False,  # noqa: E712
        )
        .exists()
    )


# The runs tables as plain names (their models are declared further down).
_abom_table = table("abom_item", column("part_inventory_id"), column("parent_part_inventory_id"))
_run_table = table("run", column("part_inventory_id"), column("status"))


def allocated_expression() -> ColumnElement[bool]:
    """Held by a retail order line: an unreleased allocation link."""
    return (
        select(OrderAllocationInventory.id)
        .where(
            OrderAllocationInventory.part_inventory_id == PartInventory.id,
            OrderAllocationInventory.released == False,  # noqa: E712
        )
        .exists()
    )


def installed_expression() -> ColumnElement[bool]:
    """Installed in a unit: an aBOM item with a parent names the record (docs/runs.md)."""
    return (
        select(_abom_table.c.part_inventory_id)
        .where(
            _abom_table.c.part_inventory_id == PartInventory.id,
            _abom_table.c.parent_part_inventory_id.is_not(None),
        )
        .exists()
    )


# The closed statuses as literals, not bound parameters: only a query that repeats
# uq_run_open_unit's WHERE, constants included, may use that index on SQLite; with parameters
# SQLite read the whole run table for every record tested.
_CLOSED_RUN_STATUSES: tuple[ColumnElement[Any], ...] = (literal_column("'COMPLETED'"), literal_column("'CANCELED'"))


def wip_expression() -> ColumnElement[bool]:
    """The unit an open run is building."""
    return (
        select(_run_table.c.part_inventory_id)
        .where(
            _run_table.c.part_inventory_id == PartInventory.id,
            _run_table.c.status.not_in(_CLOSED_RUN_STATUSES),
        )
        .exists()
    )


# Zero as a literal, not a bound parameter: SQLite uses a partial index only when the query
# repeats the index's WHERE terms, constants included.
_ZERO_UNITS: ColumnElement[Any] = literal_column("0")


def status_rules() -> list[tuple[str, ColumnElement[bool], ColumnElement[bool]]]:
    """domain.status.derive_status as SQL: (status, condition, its negation); the first
    matching condition wins, else AVAILABLE. A property test holds the two equal.

    Negations are written out, in the form of ix_part_inventory_in_stock's WHERE clause, so
    that "AVAILABLE" reads `scrapped = false AND on_order = false AND quantity > 0 …` and both
    engines can use that index.
    """
    return list(_status_rules())


# The expressions are constant, and building them took ~14% of an issue's CPU: built once.
# (SQLAlchemy expressions are immutable; every statement may share them.)
@functools.cache
def _status_rules() -> tuple[tuple[str, ColumnElement[bool], ColumnElement[bool]], ...]:
    return (
        ("SCRAPPED", PartInventory.scrapped == True, PartInventory.scrapped == False),  # noqa: E712
        ("INSTALLED", installed_expression(), ~installed_expression()),
        ("KITTED", kitted_expression(), ~kitted_expression()),
        ("ALLOCATED", allocated_expression(), ~allocated_expression()),
        ("ON_ORDER", PartInventory.on_order == True, PartInventory.on_order == False),  # noqa: E712
        ("WIP", wip_expression(), ~wip_expression()),
        (
            "UNAVAILABLE",
            or_(PartInventory.quantity <= _ZERO_UNITS, location_unavailable_expression()),
            and_(PartInventory.quantity > _ZERO_UNITS, location_available_here()),
        ),
    )


@functools.cache
def status_expression() -> ColumnElement[str]:
    """The derived status as a value (for output and sorting)."""
    return case(*[(condition, name) for name, condition, _ in status_rules()], else_="AVAILABLE")


def status_is(*statuses: str) -> ColumnElement[bool]:
    """`status IN (…)` as plain conditions (for filters): a CASE compared to a constant
    cannot use an index, these can."""
    return _status_is(frozenset(statuses))


@functools.cache
def _status_is(statuses: frozenset[str]) -> ColumnElement[bool]:
    return _membership(_status_rules(), statuses)


def _membership(rules: Sequence[tuple[str, ColumnElement[bool], ColumnElement[bool]]],
                statuses: frozenset[str]) -> ColumnElement[bool]:
    """A record's status is in `statuses`: the first matching rule decides."""
    wanted: list[ColumnElement[bool]] = []
    for position, (name, condition, _) in enumerate([*rules, ("AVAILABLE", true(), false())]):
        if name in statuses:
            earlier = [negation for _, _, negation in rules[:position]]
            wanted.append(and_(condition, *earlier))
    return or_(*wanted) if wanted else false()


def status_not_in(*statuses: str) -> ColumnElement[bool]:
    """`status NOT IN (…)` as plain conditions: every listed rule's written negation, so a
    rule on another table (EXISTS) becomes an anti-join rather than a subquery per record."""
    return _status_not_in(frozenset(statuses))


@functools.cache
def _status_not_in(statuses: frozenset[str]) -> ColumnElement[bool]:
    # The first matching rule decides, so a record is in `statuses` iff some listed rule
    # matches and no earlier unlisted one does; an earlier listed rule needs no negation
    # (it would have matched first). Hence NOT IN: each listed rule fails, or an earlier
    # unlisted one matches.
    rules = status_rules()
    kept: list[ColumnElement[bool]] = []
    for position, (name, _condition, negation) in enumerate(rules):
        if name in statuses:
            earlier = [other for other_name, other, _ in rules[:position] if other_name not in statuses]
            kept.append(or_(negation, *earlier) if earlier else negation)
    if "AVAILABLE" in statuses:
        kept.append(or_(*[condition for _, condition, _ in rules]))
    return and_(true(), *kept)


# The same rules over joined rows, for lists filtered by status (store.queries.MembershipFilter
# with `with_status_joins`): each link table, the open run and the record's counting location
# joined at most once per record (each join repeats a unique index's condition: the held link,
# the installed aBOM item, the open run; the location by key), so every rule reads a joined
# column instead of running a correlated subquery per record. SQLite runs each such subquery as
# a subprogram per row: counting a part's available records took ~35% less time this way
# (bench/README.md); PostgreSQL plans both forms as the same anti-joins.
_HELD_KIT = PartKitInventory.__table__.alias("status_held_kit")
_HELD_ORDER = OrderAllocationInventory.__table__.alias("status_held_order")
_INSTALLED_IN = _abom_table.alias("status_installed_in")
_OPEN_RUN = _run_table.alias("status_open_run")
_COUNTING_LOCATION = Location.__table__.alias("status_counting_location")


@functools.cache
def _status_joins() -> tuple[tuple[Any, ColumnElement[bool]], ...]:
    record = PartInventory.__table__.c
    return (
        (_INSTALLED_IN, and_(_INSTALLED_IN.c.part_inventory_id == record.id,
                             _INSTALLED_IN.c.parent_part_inventory_id.is_not(None))),
        (_HELD_KIT, and_(_HELD_KIT.c.part_inventory_id == record.id, _HELD_KIT.c.released == False)),  # noqa: E712
        (_HELD_ORDER, and_(_HELD_ORDER.c.part_inventory_id == record.id,
                           _HELD_ORDER.c.released == False)),  # noqa: E712
        (_OPEN_RUN, and_(_OPEN_RUN.c.part_inventory_id == record.id,
                         _OPEN_RUN.c.status.not_in(_CLOSED_RUN_STATUSES))),
        (_COUNTING_LOCATION, and_(_COUNTING_LOCATION.c.id == record.location_id,
                                  _COUNTING_LOCATION.c.inventory_available == True)),  # noqa: E712
    )


def with_status_joins(stmt: Select[Any]) -> Select[Any]:
    """`stmt` (over part_inventory) with the outer joins `status_is_joined` reads."""
    for target, onclause in _status_joins():
        stmt = stmt.outerjoin(target, onclause)
    return stmt


@functools.cache
def _status_rules_joined() -> tuple[tuple[str, ColumnElement[bool], ColumnElement[bool]], ...]:
    """`_status_rules` over the joined rows; a property test holds the two equal."""
    def present(column: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return column.is_not(None), column.is_(None)

    return (
        ("SCRAPPED", PartInventory.scrapped == True, PartInventory.scrapped == False),  # noqa: E712
        ("INSTALLED", *present(_INSTALLED_IN.c.part_inventory_id)),
        ("KITTED", *present(_HELD_KIT.c.id)),
        ("ALLOCATED", *present(_HELD_ORDER.c.id)),
        ("ON_ORDER", PartInventory.on_order == True, PartInventory.on_order == False),  # noqa: E712
        ("WIP", *present(_OPEN_RUN.c.part_inventory_id)),
        (
            "UNAVAILABLE",
            or_(PartInventory.quantity <= _ZERO_UNITS, _COUNTING_LOCATION.c.id.is_(None)),
            and_(PartInventory.quantity > _ZERO_UNITS, _COUNTING_LOCATION.c.id.is_not(None)),
        ),
    )


def status_is_joined(*statuses: str) -> ColumnElement[bool]:
    """`status IN (…)` over the rows `with_status_joins` adds."""
    return _status_is_joined(frozenset(statuses))


@functools.cache
def _status_is_joined(statuses: frozenset[str]) -> ColumnElement[bool]:
    return _membership(_status_rules_joined(), statuses)


PartInventory.__mapper__.add_property("status", column_property(status_expression()))


# --------------------------------------------------------------------------- security


class ApiKey(Base):
    """A machine credential of a user: `client_id` is public, the secret is only kept as its
    SHA-256 (secrets are 256 random bits, so a fast hash is safe and lookups stay cheap).
    Its rights are its user's current role, narrowed by `role` when set."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccessToken(Base):
    """A short-lived bearer token issued for an API key (POST /auth/token); SHA-256 only."""

    __tablename__ = "access_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AuditEntry(Base):
    """One immutable row per change of a user, key, kit, kit item or rule (services.audit):
    who, when, what, and the changed fields. Append-only like the ledger (triggers)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_target", "target_type", "target_id", "id"),
        Index("ix_audit_entry_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AppSecret(Base):
    """Secrets the service generates for itself on first run (the session signing key)."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


# --------------------------------------------------------------------------- runs, BOMs, aBOM
# See docs/runs.md. The status rules above refer to these tables by name (`_abom_table`,
# `_run_table`) so they can stay where the other status rules are.

RUN_STATUSES = ("TODO", "IN_PROGRESS", "HOLD", "COMPLETED", "CANCELED")


class MbomItem(Versioned, Base):
    """One line of a part's manufacturing BOM: `quantity` of `part` per one `parent`.
    Kept apart from `PartComponent` (retail kit definitions, which drive kit availability)."""

    __tablename__ = "mbom_item"
    __table_args__ = (
        UniqueConstraint("parent_id", "part_id", name="uq_mbom_item_parent_part"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("parent_id <> part_id", name="not_self"),
        Index("ix_mbom_item_parent", "parent_id", "id"),
        Index("ix_mbom_item_part", "part_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    made_on_assembly: Mapped[bool] = mapped_column(Boolean, default=False)
    substitutes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MbomItemReferenceDesignator(Versioned, Base):
    """Where on the assembly an mBOM line goes (R1, C12, …)."""

    __tablename__ = "mbom_item_reference_designator"
    __table_args__ = (
        UniqueConstraint("mbom_item_id", "value", name="uq_mbom_refdes_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mbom_item_id: Mapped[int] = mapped_column(
        ForeignKey("mbom_item.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Run(Versioned, Base):
    """A work order building `quantity` of `part`; `part_inventory_id` is the unit being built
    (WIP while the run is open). At most one open run builds a unit (partial unique index)."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(
            "status IN ('TODO', 'IN_PROGRESS', 'HOLD', 'COMPLETED', 'CANCELED')", name="status"
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index(
            "uq_run_open_unit", "part_inventory_id", unique=True,
            sqlite_where=text("status NOT IN ('COMPLETED', 'CANCELED')"),
            postgresql_where=text("status NOT IN ('COMPLETED', 'CANCELED')"),
        ),
        Index("ix_run_status", "status", "id"),
        Index("ix_run_part", "part_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="TODO")
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    procedure_id: Mapped[int | None] = mapped_column(Integer, index=True)
    part_inventory_id: Mapped[int | None] = mapped_column(ForeignKey("part_inventory.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class BuildRequirement(Versioned, Base):
    """What a run needs of one part: its mBOM line x run quantity, snapshotted when the run
    was created. `waived` (with a reason) lets a run complete without it."""

    __tablename__ = "build_requirement"
    __table_args__ = (
        UniqueConstraint("run_id", "part_id", name="uq_build_requirement_run_part"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("NOT waived OR waive_reason IS NOT NULL", name="waived_has_reason"),
        Index("ix_build_requirement_part", "part_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    mbom_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("mbom_item.id", ondelete="SET NULL")
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    waived: Mapped[bool] = mapped_column(Boolean, default=False)
    waive_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AbomItem(Versioned, Base):
    """A node of the as-built BOM. With a parent unit: `part_inventory_id` (holding exactly
    `quantity`) is installed in `parent_part_inventory_id` against a build requirement. Without
    one: the root of a unit's aBOM trace (createAbomForPartInventory). Partial unique indexes:
    a record is installed in one place at most, and has one root at most."""

    __tablename__ = "abom_item"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "parent_part_inventory_id IS NULL OR parent_part_inventory_id <> part_inventory_id",
            name="not_self",
        ),
        Index(
            "uq_abom_item_installed", "part_inventory_id", unique=True,
            sqlite_where=text("parent_part_inventory_id IS NOT NULL"),
            postgresql_where=text("parent_part_inventory_id IS NOT NULL"),
        ),
        Index(
            "uq_abom_item_root", "part_inventory_id", unique=True,
            sqlite_where=text("parent_part_inventory_id IS NULL"),
            postgresql_where=text("parent_part_inventory_id IS NULL"),
        ),
        Index("ix_abom_item_parent", "parent_part_inventory_id", "part_inventory_id"),
        Index("ix_abom_item_requirement", "build_requirement_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_inventory_id: Mapped[int] = mapped_column(
        ForeignKey("part_inventory.id", ondelete="CASCADE")
    )
    parent_part_inventory_id: Mapped[int | None] = mapped_column(
        ForeignKey("part_inventory.id", ondelete="CASCADE")
    )
    build_requirement_id: Mapped[int | None] = mapped_column(
        ForeignKey("build_requirement.id", ondelete="SET NULL")
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


# --------------------------------------------------------------------------- kanban kits

KANBAN_STATUSES = ("EMPTY", "FILLED", "AT_LINE", "EMPTIED")


class KanbanKit(Versioned, Base):
    """A reusable kit that cycles between its home and its line location (docs/kanban.md).
    Each cycle's fill is an ordinary PartKit (`KanbanCycle.part_kit_id`)."""

    __tablename__ = "kanban_kit"
    __table_args__ = (
        CheckConstraint("status IN ('EMPTY', 'FILLED', 'AT_LINE', 'EMPTIED')", name="status"),
        CheckConstraint("cycle_count >= 0", name="cycle_count_not_negative"),
        Index("ix_kanban_kit_line", "line_location_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="EMPTY")
    home_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    line_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    cycle_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


# --------------------------------------------------------------------------- hardening


class RateLimitBucket(Base):
    """One rate-limit bucket shared by every worker and host on this database
    (services.ratelimit). `tat` is the bucket's theoretical arrival time (seconds since the
    epoch); `allowed` is the outcome of the last request, read back in the same statement."""

    __tablename__ = "rate_limit_bucket"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[float] = mapped_column(Float(53))
    allowed: Mapped[bool] = mapped_column(Boolean)


class WebSession(Base):
    """A signed-in browser session; signing out deletes it, so a copied cookie stops working.
    Only the SHA-256 of the session id (held in the signed cookie) is kept."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
class KanbanPatternLine(Base):
    """One part of a kanban kit's pattern: `quantity` per cycle."""

    __tablename__ = "kanban_pattern_line"
    __table_args__ = (
        UniqueConstraint("kanban_kit_id", "part_id", name="uq_kanban_pattern_line_part"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kanban_kit_id: Mapped[int] = mapped_column(ForeignKey("kanban_kit.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)


class KanbanCycle(Base):
    """One cycle of a kanban kit: its kit (the fill), and when and by whom it was filled,
    delivered and emptied. At most one cycle per kanban kit is open (not yet emptied)."""

    __tablename__ = "kanban_cycle"
    __table_args__ = (
        UniqueConstraint("kanban_kit_id", "number", name="uq_kanban_cycle_number"),
        UniqueConstraint("part_kit_id", name="uq_kanban_cycle_part_kit"),
        Index(
            "uq_kanban_cycle_open", "kanban_kit_id", unique=True,
            sqlite_where=text("emptied_at IS NULL"), postgresql_where=text("emptied_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kanban_kit_id: Mapped[int] = mapped_column(ForeignKey("kanban_kit.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    part_kit_id: Mapped[int] = mapped_column(ForeignKey("part_kit.id"))
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    filled_by: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_by: Mapped[str | None] = mapped_column(String(200))
    emptied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    emptied_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KanbanCycleLine(Base):
    """Per part of a cycle: the pattern, what was filled, consumed and returned."""

    __tablename__ = "kanban_cycle_line"
    __table_args__ = (
        UniqueConstraint("kanban_cycle_id", "part_id", name="uq_kanban_cycle_line_part"),
        CheckConstraint(
            "filled_quantity >= 0 AND consumed_quantity >= 0 AND returned_quantity >= 0",
            name="quantities_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kanban_cycle_id: Mapped[int] = mapped_column(ForeignKey("kanban_cycle.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    part_kit_item_id: Mapped[int] = mapped_column(ForeignKey("part_kit_item.id"))
    pattern_quantity: Mapped[Decimal] = mapped_column(Quantity)
    filled_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    consumed_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    returned_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))


class LineStockLevel(Versioned, Base):
    """Line-side min/max of a part at a line location; replenishment brings a part below its
    minimum up to its maximum with kanban kits homed at `home_location_id`."""

    __tablename__ = "line_stock_level"
    __table_args__ = (
        UniqueConstraint("location_id", "part_id", name="uq_line_stock_level_part"),
        CheckConstraint("min_quantity >= 0 AND max_quantity > 0 AND min_quantity <= max_quantity",
                        name="min_max"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    home_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    min_quantity: Mapped[Decimal] = mapped_column(Quantity)
    max_quantity: Mapped[Decimal] = mapped_column(Quantity)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --------------------------------------------------------------------------- retail orders
# docs/retail-orders.md. Kit quantities (order lines, allocations, release stages, returns)
# are whole kits, stored as integers; component quantities are exact decimals.


class OrderSettings(Versioned, Base):
    """The one row of order settings (id 1)."""

    __tablename__ = "order_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partial_kit_supported: Mapped[bool] = mapped_column(Boolean, default=False)
    enable_kits: Mapped[bool] = mapped_column(Boolean, default=False)
    return_verification_policy: Mapped[str] = mapped_column(String(20), default="RETURN_ORDER")
    backorder_short_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)


class RetailOrder(Versioned, Base):
    __tablename__ = "retail_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(200), unique=True)
    exchange_for_return_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class OrderLine(Base):
    """One line: `quantity` kits (or units of a regular item) of `part`.

    Counters in kits: canceled, shipped, shorted. Allocated, released, in-progress, picked,
    packed and backordered are derived from allocations and release lines."""

    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_number", name="uq_order_line_number"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("canceled_quantity + shipped_quantity <= quantity", name="not_over_closed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("retail_order.id", ondelete="CASCADE"), index=True)
    line_number: Mapped[str] = mapped_column(String(50))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    canceled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    shipped_quantity: Mapped[int] = mapped_column(Integer, default=0)
    shorted_quantity: Mapped[int] = mapped_column(Integer, default=0)
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    allocation_attempted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_kit: Mapped[bool] = mapped_column(Boolean, default=False)


class OrderLineComponent(Base):
    __tablename__ = "order_line_component"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)


class OrderAllocation(Base):
    """`kits` whole kits of a line allocated at one site; `release_id` once released."""

    __tablename__ = "order_allocation"
    __table_args__ = (CheckConstraint("kits >= 0", name="kits_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("retail_order.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(Integer)
    kits: Mapped[int] = mapped_column(Integer)
    release_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderRelease(Base):
    __tablename__ = "order_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("retail_order.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(Integer)
    release_number: Mapped[str] = mapped_column(String(250), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderReleaseLine(Base):
    """One component of a kit line in a release; the stage counters are in kits and equal on
    every component line of the same kit line and release (events move whole kits)."""

    __tablename__ = "order_release_line"
    __table_args__ = (
        UniqueConstraint("release_id", "line_number", name="uq_order_release_line_number"),
        CheckConstraint(
            "released >= 0 AND in_progress >= 0 AND picked >= 0 AND packed >= 0", name="stages_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("order_release.id", ondelete="CASCADE"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    ratio: Mapped[Decimal] = mapped_column(Quantity)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    kits: Mapped[int] = mapped_column(Integer)
    released: Mapped[int] = mapped_column(Integer, default=0)
    in_progress: Mapped[int] = mapped_column(Integer, default=0)
    picked: Mapped[int] = mapped_column(Integer, default=0)
    packed: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0)
    shorted: Mapped[int] = mapped_column(Integer, default=0)
    canceled: Mapped[int] = mapped_column(Integer, default=0)


class OrderEventMessage(Base):
    """A warehouse message, once per external message id (idempotent intake)."""

    __tablename__ = "order_event_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_message_id: Mapped[str] = mapped_column(String(250), unique=True)
    processed: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UnprocessedOrderEvent(Base):
    """An event of a message that failed a check, stored unchanged on its release line;
    `processed_at` is set when the reconciler processes it."""

    __tablename__ = "unprocessed_order_event"
    __table_args__ = (Index("ix_unprocessed_order_event_open", "processed_at", "order_line_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("order_event_message.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(20))
    order_line_id: Mapped[int] = mapped_column(Integer)
    release_id: Mapped[int | None] = mapped_column(Integer)
    release_line_id: Mapped[int | None] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    package_id: Mapped[str | None] = mapped_column(String(250))
    short_reason_id: Mapped[str | None] = mapped_column(String(250))
    cancel_unfulfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Invoice(Base):
    """One per package shipped (SALE), or per resolved return line (RETURN)."""

    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("retail_order.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    package_id: Mapped[str | None] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The order-event message that shipped it: a message's invoices are inserted in one
    # statement and read back by it.
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_event_message.id", ondelete="SET NULL"), index=True)


class InvoiceLine(Base):
    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(Integer)
    return_line_id: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)


class ReturnOrder(Base):
    __tablename__ = "return_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("retail_order.id", ondelete="CASCADE"), index=True)
    exchange_type: Mapped[str | None] = mapped_column(String(10))
    exchange_order_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReturnLine(Base):
    """One returned line (kits of an order line), or an unexpected item (`unexpected`)."""

    __tablename__ = "return_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_order_id: Mapped[int] = mapped_column(ForeignKey("return_order.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(Integer, index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    condition: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="OPEN")
    quantity_variance: Mapped[bool] = mapped_column(Boolean, default=False)
    condition_variance: Mapped[bool] = mapped_column(Boolean, default=False)
    unexpected: Mapped[bool] = mapped_column(Boolean, default=False)
    invoiced_quantity: Mapped[int] = mapped_column(Integer, default=0)
    canceled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReturnVerification(Base):
    """Verified units of a part on a return line; `part_inventory_id` the stock they went to."""

    __tablename__ = "return_verification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_line_id: Mapped[int] = mapped_column(ForeignKey("return_line.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    condition: Mapped[str] = mapped_column(String(20))
    part_inventory_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rule(Versioned, Base):
    """An action (validation rule, docs/actions.md): when `code` (a CEL condition) is true for
    a change of `target` on `event_type`, the change is refused (severity BLOCK) or let
    through with a warning in the audit trail (WARN). Enabled rules run in `position` order."""

    __tablename__ = "rule"
    __table_args__ = (
        CheckConstraint("event_type IN ('CREATE', 'UPDATE', 'DELETE')", name="event_type"),
        CheckConstraint("severity IN ('BLOCK', 'WARN')", name="severity"),
        Index("ix_rule_target_event", "target", "event_type", "enabled", "position", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(30))
    event_type: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(10), default="BLOCK")
    code: Mapped[str] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
