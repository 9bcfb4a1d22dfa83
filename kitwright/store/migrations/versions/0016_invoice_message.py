"""invoice.message_id: the order-event message that shipped an invoice (docs/retail-orders.md)

Revision ID: 0016
Revises: 0012

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_invoice_message_id"), ["message_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_invoice_message_id_order_event_message"),
                                    "order_event_message", ["message_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_invoice_message_id_order_event_message"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_invoice_message_id"))
        batch_op.drop_column("message_id")
