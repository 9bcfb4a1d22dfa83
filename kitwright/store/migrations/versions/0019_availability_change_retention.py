"""availability_change_mark: the points of the change log that pruning goes by
(docs/retail.md, "Changes")

Revision ID: 0019
Revises: 0018

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "availability_change_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_change_mark")),
    )


def downgrade() -> None:
    op.drop_table("availability_change_mark")
