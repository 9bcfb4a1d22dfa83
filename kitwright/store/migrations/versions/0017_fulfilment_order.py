"""part.fulfilment_order (FIFO or FEFO) and part_inventory.expiration_date (docs/kit-rules.md)

Revision ID: 0017
Revises: 0016

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("part", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fulfilment_order", sa.String(length=4), nullable=False,
                                      server_default="FIFO"))
        batch_op.create_check_constraint("ck_part_fulfilment_order",
                                         "fulfilment_order IN ('FIFO', 'FEFO')")
    with op.batch_alter_table("part_inventory", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiration_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("part_inventory", schema=None) as batch_op:
        batch_op.drop_column("expiration_date")
    with op.batch_alter_table("part", schema=None) as batch_op:
        batch_op.drop_constraint("ck_part_fulfilment_order", type_="check")
        batch_op.drop_column("fulfilment_order")
