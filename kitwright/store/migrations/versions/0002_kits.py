"""kits: part_kit, part_kit_item, part_kit_inventory

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kitwright.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "part_kit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("staging_location_id", sa.Integer(), nullable=True),
        sa.Column("delivery_location_id", sa.Integer(), nullable=True),
        sa.Column("current_location_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('DRAFT', 'REQUESTED', 'IN_PROGRESS', 'DELIVERED', 'COMPLETED', 'CANCELED')",
            name=op.f("ck_part_kit_status"),
        ),
        sa.CheckConstraint(
            "status <> 'DELIVERED' OR delivery_location_id IS NOT NULL",
            name=op.f("ck_part_kit_delivered_has_location"),
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"], ["app_user.id"], name=op.f("fk_part_kit_assigned_to_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["app_user.id"], name=op.f("fk_part_kit_created_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["staging_location_id"], ["location.id"],
            name=op.f("fk_part_kit_staging_location_id_location"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_location_id"], ["location.id"],
            name=op.f("fk_part_kit_delivery_location_id_location"),
        ),
        sa.ForeignKeyConstraint(
            ["current_location_id"], ["location.id"],
            name=op.f("fk_part_kit_current_location_id_location"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_kit")),
    )
    with op.batch_alter_table("part_kit", schema=None) as batch_op:
        batch_op.create_index("ix_part_kit_status", ["status", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_part_kit_run_id"), ["run_id"], unique=False)

    op.create_table(
        "part_kit_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_kit_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", kitwright.store.types.Quantity(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_part_kit_item_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["part_kit_id"], ["part_kit.id"], name=op.f("fk_part_kit_item_part_kit_id_part_kit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part.id"], name=op.f("fk_part_kit_item_part_id_part")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_kit_item")),
    )
    with op.batch_alter_table("part_kit_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_part_kit_item_part_kit_id"), ["part_kit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_part_kit_item_part_id"), ["part_id"], unique=False)

    op.create_table(
        "part_kit_inventory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_kit_id", sa.Integer(), nullable=False),
        sa.Column("part_kit_item_id", sa.Integer(), nullable=False),
        sa.Column("part_inventory_id", sa.Integer(), nullable=False),
        sa.Column("issued_quantity", kitwright.store.types.Quantity(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "issued_quantity > 0", name=op.f("ck_part_kit_inventory_issued_positive")
        ),
        sa.ForeignKeyConstraint(
            ["part_kit_id"], ["part_kit.id"],
            name=op.f("fk_part_kit_inventory_part_kit_id_part_kit"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_kit_item_id"], ["part_kit_item.id"],
            name=op.f("fk_part_kit_inventory_part_kit_item_id_part_kit_item"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_inventory_id"], ["part_inventory.id"],
            name=op.f("fk_part_kit_inventory_part_inventory_id_part_inventory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_kit_inventory")),
    )
    with op.batch_alter_table("part_kit_inventory", schema=None) as batch_op:
        batch_op.create_index(
            "uq_part_kit_inventory_held", ["part_inventory_id"], unique=True,
            sqlite_where=sa.text("released = 0"), postgresql_where=sa.text("released = false"),
        )
        batch_op.create_index("ix_part_kit_inventory_record", ["part_inventory_id", "id"], unique=False)
        batch_op.create_index("ix_part_kit_inventory_item", ["part_kit_item_id", "id"], unique=False)
        batch_op.create_index("ix_part_kit_inventory_kit", ["part_kit_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("part_kit_inventory")
    op.drop_table("part_kit_item")
    op.drop_table("part_kit")
