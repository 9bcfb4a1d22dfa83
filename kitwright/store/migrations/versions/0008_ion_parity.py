"""ION parity: supplier part number and key/value attributes on parts and suppliers

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("part") as batch:
        batch.add_column(sa.Column("supplier_part_number", sa.String(200), nullable=True))
        batch.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
    with op.batch_alter_table("supplier") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("supplier") as batch:
        batch.drop_column("attributes")
    with op.batch_alter_table("part") as batch:
        batch.drop_column("attributes")
        batch.drop_column("supplier_part_number")
