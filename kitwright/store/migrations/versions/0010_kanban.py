"""kanban kits: kanban_kit, kanban_pattern_line, kanban_cycle, kanban_cycle_line,
line_stock_level (docs/kanban.md)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kitwright.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Q = kitwright.store.types.Quantity


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "kanban_kit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("home_location_id", sa.Integer(), nullable=False),
        sa.Column("line_location_id", sa.Integer(), nullable=False),
        sa.Column("cycle_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint("status IN ('EMPTY', 'FILLED', 'AT_LINE', 'EMPTIED')",
                           name=op.f("ck_kanban_kit_status")),
        sa.CheckConstraint("cycle_count >= 0", name=op.f("ck_kanban_kit_cycle_count_not_negative")),
        sa.ForeignKeyConstraint(["home_location_id"], ["location.id"],
                                name=op.f("fk_kanban_kit_home_location_id_location")),
        sa.ForeignKeyConstraint(["line_location_id"], ["location.id"],
                                name=op.f("fk_kanban_kit_line_location_id_location")),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"],
                                name=op.f("fk_kanban_kit_created_by_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kanban_kit")),
    )
    op.create_index("ix_kanban_kit_line", "kanban_kit", ["line_location_id", "status", "id"])

    op.create_table(
        "kanban_pattern_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kanban_kit_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", Q(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_kanban_pattern_line_quantity_positive")),
        sa.ForeignKeyConstraint(["kanban_kit_id"], ["kanban_kit.id"], ondelete="CASCADE",
                                name=op.f("fk_kanban_pattern_line_kanban_kit_id_kanban_kit")),
        sa.ForeignKeyConstraint(["part_id"], ["part.id"],
                                name=op.f("fk_kanban_pattern_line_part_id_part")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kanban_pattern_line")),
        sa.UniqueConstraint("kanban_kit_id", "part_id", name="uq_kanban_pattern_line_part"),
    )

    op.create_table(
        "kanban_cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kanban_kit_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("part_kit_id", sa.Integer(), nullable=False),
        _when("filled_at"),
        sa.Column("filled_by", sa.String(length=200), nullable=True),
        _when("delivered_at"),
        sa.Column("delivered_by", sa.String(length=200), nullable=True),
        _when("emptied_at"),
        sa.Column("emptied_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["kanban_kit_id"], ["kanban_kit.id"], ondelete="CASCADE",
                                name=op.f("fk_kanban_cycle_kanban_kit_id_kanban_kit")),
        sa.ForeignKeyConstraint(["part_kit_id"], ["part_kit.id"],
                                name=op.f("fk_kanban_cycle_part_kit_id_part_kit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kanban_cycle")),
        sa.UniqueConstraint("kanban_kit_id", "number", name="uq_kanban_cycle_number"),
        sa.UniqueConstraint("part_kit_id", name="uq_kanban_cycle_part_kit"),
    )
    op.create_index(
        "uq_kanban_cycle_open", "kanban_cycle", ["kanban_kit_id"], unique=True,
        sqlite_where=sa.text("emptied_at IS NULL"), postgresql_where=sa.text("emptied_at IS NULL"),
    )

    op.create_table(
        "kanban_cycle_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kanban_cycle_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("part_kit_item_id", sa.Integer(), nullable=False),
        sa.Column("pattern_quantity", Q(), nullable=False),
        sa.Column("filled_quantity", Q(), nullable=False),
        sa.Column("consumed_quantity", Q(), nullable=False),
        sa.Column("returned_quantity", Q(), nullable=False),
        sa.CheckConstraint(
            "filled_quantity >= 0 AND consumed_quantity >= 0 AND returned_quantity >= 0",
            name=op.f("ck_kanban_cycle_line_quantities_not_negative"),
        ),
        sa.ForeignKeyConstraint(["kanban_cycle_id"], ["kanban_cycle.id"], ondelete="CASCADE",
                                name=op.f("fk_kanban_cycle_line_kanban_cycle_id_kanban_cycle")),
        sa.ForeignKeyConstraint(["part_id"], ["part.id"], name=op.f("fk_kanban_cycle_line_part_id_part")),
        sa.ForeignKeyConstraint(["part_kit_item_id"], ["part_kit_item.id"],
                                name=op.f("fk_kanban_cycle_line_part_kit_item_id_part_kit_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kanban_cycle_line")),
        sa.UniqueConstraint("kanban_cycle_id", "part_id", name="uq_kanban_cycle_line_part"),
    )

    op.create_table(
        "line_stock_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("home_location_id", sa.Integer(), nullable=False),
        sa.Column("min_quantity", Q(), nullable=False),
        sa.Column("max_quantity", Q(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "min_quantity >= 0 AND max_quantity > 0 AND min_quantity <= max_quantity",
            name=op.f("ck_line_stock_level_min_max"),
        ),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"],
                                name=op.f("fk_line_stock_level_location_id_location")),
        sa.ForeignKeyConstraint(["home_location_id"], ["location.id"],
                                name=op.f("fk_line_stock_level_home_location_id_location")),
        sa.ForeignKeyConstraint(["part_id"], ["part.id"], name=op.f("fk_line_stock_level_part_id_part")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_stock_level")),
        sa.UniqueConstraint("location_id", "part_id", name="uq_line_stock_level_part"),
    )


def downgrade() -> None:
    op.drop_table("line_stock_level")
    op.drop_table("kanban_cycle_line")
    op.drop_index("uq_kanban_cycle_open", table_name="kanban_cycle")
    op.drop_table("kanban_cycle")
    op.drop_table("kanban_pattern_line")
    op.drop_index("ix_kanban_kit_line", table_name="kanban_kit")
    op.drop_table("kanban_kit")
