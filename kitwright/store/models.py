"""SQLAlchemy 2 mappings.

Rules that the database can hold are declared here as constraints too (design rule 6), so a
bug in a service, a raw import or a race cannot write a negative quantity or a duplicate serial.
Quantities are integer millionths (see `types.Quantity`): the CHECKs below compare millionths.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    false,
    literal_column,
    or_,
    select,
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
from sqlalchemy.sql import Select
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
    racing past a service's own check still fails instead of overwriting (design rule 6).
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
        # Serial numbers are unique per part *number*, across its revisions (seed 001).
        UniqueConstraint("part_number", "serial_number", name="uq_part_inventory_serial"),
        Index("ix_part_inventory_part_created", "part_id", "created_at", "id"),
        # Pages of a location subtree in stock-age order.
        Index("ix_part_inventory_location_created", "location_id", "created_at", "id"),
        # Records that can be supply (FIFO fulfilment, availability): most records, over time,
        # are consumed, scrapped or still on order.
        Index(
            "ix_part_inventory_in_stock", "part_id", "created_at", "id",
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
    """One immutable row per change of an inventory record (design rule 4).

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


# --------------------------------------------------------------------------- kits

KIT_STATUSES = ("DRAFT", "REQUESTED", "IN_PROGRESS", "DELIVERED", "COMPLETED", "CANCELED")


class PartKit(Versioned, Base):
    """A request for parts delivered together (seed 000). `run_id` is a plain reference
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
    The partial unique index holds "a record is held by at most one kit" (design rule 3)."""

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


def location_available_ids() -> Select[Any]:
    return select(Location.id).where(Location.inventory_available == True)  # noqa: E712


def location_unavailable_expression() -> ColumnElement[bool]:
    """No location, or one whose stock does not count. A semi-join, not a correlated
    subquery, so filters on status can use indexes (bench/README.md)."""
    return or_(PartInventory.location_id.is_(None), PartInventory.location_id.not_in(location_available_ids()))


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


def installed_expression() -> ColumnElement[bool]:
    return false()


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
    in_stock_location = PartInventory.location_id.in_(location_available_ids())
    return [
        ("SCRAPPED", PartInventory.scrapped == True, PartInventory.scrapped == False),  # noqa: E712
        ("INSTALLED", installed_expression(), ~installed_expression()),
        ("KITTED", kitted_expression(), ~kitted_expression()),
        ("ON_ORDER", PartInventory.on_order == True, PartInventory.on_order == False),  # noqa: E712
        (
            "UNAVAILABLE",
            or_(PartInventory.quantity <= _ZERO_UNITS, location_unavailable_expression()),
            and_(PartInventory.quantity > _ZERO_UNITS, in_stock_location),
        ),
    ]


def status_expression() -> ColumnElement[str]:
    """The derived status as a value (for output and sorting)."""
    return case(*[(condition, name) for name, condition, _ in status_rules()], else_="AVAILABLE")


def status_is(*statuses: str) -> ColumnElement[bool]:
    """`status IN (…)` as plain conditions (for filters): a CASE compared to a constant
    cannot use an index, these can."""
    rules = status_rules()
    wanted: list[ColumnElement[bool]] = []
    for position, (name, condition, _) in enumerate([*rules, ("AVAILABLE", true(), false())]):
        if name in statuses:
            earlier = [negation for _, _, negation in rules[:position]]
            wanted.append(and_(condition, *earlier))
    return or_(*wanted) if wanted else false()


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
