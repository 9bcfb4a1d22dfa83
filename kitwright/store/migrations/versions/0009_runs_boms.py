"""runs, mBOM, build requirements and the aBOM (docs/runs.md)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kitwright.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _q() -> kitwright.store.types.Quantity:
    return kitwright.store.types.Quantity()


def _at() -> kitwright.store.types.UTCDateTime:
    return kitwright.store.types.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "mbom_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", _q(), nullable=False),
        sa.Column("made_on_assembly", sa.Boolean(), nullable=False),
        sa.Column("substitutes", sa.Text(), nullable=True),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_mbom_item_quantity_positive")),
        sa.CheckConstraint("parent_id <> part_id", name=op.f("ck_mbom_item_not_self")),
        sa.ForeignKeyConstraint(["parent_id"], ["part.id"], name=op.f("fk_mbom_item_parent_id_part")),
        sa.ForeignKeyConstraint(["part_id"], ["part.id"], name=op.f("fk_mbom_item_part_id_part")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbom_item")),
        sa.UniqueConstraint("parent_id", "part_id", name="uq_mbom_item_parent_part"),
    )
    op.create_index("ix_mbom_item_parent", "mbom_item", ["parent_id", "id"])
    op.create_index("ix_mbom_item_part", "mbom_item", ["part_id", "id"])

    op.create_table(
        "mbom_item_reference_designator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mbom_item_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mbom_item_id"], ["mbom_item.id"], ondelete="CASCADE",
            name=op.f("fk_mbom_item_reference_designator_mbom_item_id_mbom_item"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbom_item_reference_designator")),
        sa.UniqueConstraint("mbom_item_id", "value", name="uq_mbom_refdes_value"),
    )
    op.create_index(
        op.f("ix_mbom_item_reference_designator_mbom_item_id"), "mbom_item_reference_designator",
        ["mbom_item_id"],
    )

    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", _q(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=True),
        sa.Column("part_inventory_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("completed_at", _at(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('TODO', 'IN_PROGRESS', 'HOLD', 'COMPLETED', 'CANCELED')",
            name=op.f("ck_run_status"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_run_quantity_positive")),
        sa.ForeignKeyConstraint(["part_id"], ["part.id"], name=op.f("fk_run_part_id_part")),
        sa.ForeignKeyConstraint(
            ["part_inventory_id"], ["part_inventory.id"], name=op.f("fk_run_part_inventory_id_part_inventory")
        ),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], name=op.f("fk_run_location_id_location")),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"], name=op.f("fk_run_created_by_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
    )
    op.create_index(
        "uq_run_open_unit", "run", ["part_inventory_id"], unique=True,
        sqlite_where=sa.text("status NOT IN ('COMPLETED', 'CANCELED')"),
        postgresql_where=sa.text("status NOT IN ('COMPLETED', 'CANCELED')"),
    )
    op.create_index("ix_run_status", "run", ["status", "id"])
    op.create_index("ix_run_part", "run", ["part_id", "id"])
    op.create_index(op.f("ix_run_procedure_id"), "run", ["procedure_id"])

    op.create_table(
        "build_requirement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("mbom_item_id", sa.Integer(), nullable=True),
        sa.Column("quantity", _q(), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("waive_reason", sa.Text(), nullable=True),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_build_requirement_quantity_positive")),
        sa.CheckConstraint(
            "NOT waived OR waive_reason IS NOT NULL", name=op.f("ck_build_requirement_waived_has_reason")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], ondelete="CASCADE", name=op.f("fk_build_requirement_run_id_run")
        ),
        sa.ForeignKeyConstraint(["part_id"], ["part.id"], name=op.f("fk_build_requirement_part_id_part")),
        sa.ForeignKeyConstraint(
            ["mbom_item_id"], ["mbom_item.id"], ondelete="SET NULL",
            name=op.f("fk_build_requirement_mbom_item_id_mbom_item"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_requirement")),
        sa.UniqueConstraint("run_id", "part_id", name="uq_build_requirement_run_part"),
    )
    op.create_index("ix_build_requirement_part", "build_requirement", ["part_id", "id"])
    op.create_index(op.f("ix_build_requirement_run_id"), "build_requirement", ["run_id"])

    op.create_table(
        "abom_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_inventory_id", sa.Integer(), nullable=False),
        sa.Column("parent_part_inventory_id", sa.Integer(), nullable=True),
        sa.Column("build_requirement_id", sa.Integer(), nullable=True),
        sa.Column("quantity", _q(), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_abom_item_quantity_positive")),
        sa.CheckConstraint(
            "parent_part_inventory_id IS NULL OR parent_part_inventory_id <> part_inventory_id",
            name=op.f("ck_abom_item_not_self"),
        ),
        sa.ForeignKeyConstraint(
            ["part_inventory_id"], ["part_inventory.id"], ondelete="CASCADE",
            name=op.f("fk_abom_item_part_inventory_id_part_inventory"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_part_inventory_id"], ["part_inventory.id"], ondelete="CASCADE",
            name=op.f("fk_abom_item_parent_part_inventory_id_part_inventory"),
        ),
        sa.ForeignKeyConstraint(
            ["build_requirement_id"], ["build_requirement.id"], ondelete="SET NULL",
            name=op.f("fk_abom_item_build_requirement_id_build_requirement"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["app_user.id"], name=op.f("fk_abom_item_created_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abom_item")),
    )
    op.create_index(
        "uq_abom_item_installed", "abom_item", ["part_inventory_id"], unique=True,
        sqlite_where=sa.text("parent_part_inventory_id IS NOT NULL"),
        postgresql_where=sa.text("parent_part_inventory_id IS NOT NULL"),
    )
    op.create_index(
        "uq_abom_item_root", "abom_item", ["part_inventory_id"], unique=True,
        sqlite_where=sa.text("parent_part_inventory_id IS NULL"),
        postgresql_where=sa.text("parent_part_inventory_id IS NULL"),
    )
    op.create_index("ix_abom_item_parent", "abom_item", ["parent_part_inventory_id", "part_inventory_id"])
    op.create_index("ix_abom_item_requirement", "abom_item", ["build_requirement_id", "id"])


def downgrade() -> None:
    op.drop_table("abom_item")
    op.drop_table("build_requirement")
    op.drop_table("run")
    op.drop_table("mbom_item_reference_designator")
    op.drop_table("mbom_item")
