"""availability_change: the supply changes kitAvailabilityChanges reports (docs/retail.md)

Revision ID: 0018
Revises: 0017

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "availability_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.Column("part_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("kit_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_change")),
    )
    op.create_index("ix_availability_change_xid", "availability_change", ["xid"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_availability_change_xid", table_name="availability_change")
    op.drop_table("availability_change")
