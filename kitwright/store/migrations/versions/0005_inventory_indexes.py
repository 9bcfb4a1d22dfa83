"""inventory indexes for list pages and FIFO supply (bench/README.md)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_part_inventory_location", table_name="part_inventory")
    op.create_index(
        "ix_part_inventory_location_created", "part_inventory", ["location_id", "created_at", "id"]
    )
    op.create_index(
        "ix_part_inventory_in_stock", "part_inventory", ["part_id", "created_at", "id"],
        postgresql_where=sa.text("NOT scrapped AND NOT on_order AND quantity > 0"),
        sqlite_where=sa.text("scrapped = 0 AND on_order = 0 AND quantity > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_part_inventory_in_stock", table_name="part_inventory")
    op.drop_index("ix_part_inventory_location_created", table_name="part_inventory")
    op.create_index("ix_part_inventory_location", "part_inventory", ["location_id", "id"])
