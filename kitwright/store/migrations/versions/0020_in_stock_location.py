"""ix_part_inventory_in_stock also holds location_id (docs/architecture.md, "Storage")

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_WHERE = {
    "postgresql_where": sa.text("NOT scrapped AND NOT on_order AND quantity > 0"),
    "sqlite_where": sa.text("scrapped = 0 AND on_order = 0 AND quantity > 0"),
}


def upgrade() -> None:
    op.drop_index("ix_part_inventory_in_stock", table_name="part_inventory")
    op.create_index(
        "ix_part_inventory_in_stock", "part_inventory", ["part_id", "created_at", "id", "location_id"], **_WHERE
    )


def downgrade() -> None:
    op.drop_index("ix_part_inventory_in_stock", table_name="part_inventory")
    op.create_index("ix_part_inventory_in_stock", "part_inventory", ["part_id", "created_at", "id"], **_WHERE)
