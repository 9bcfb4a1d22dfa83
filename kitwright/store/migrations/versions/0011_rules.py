"""actions: validation rules with a CEL condition (docs/actions.md)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=30), nullable=False),
        sa.Column("event_type", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.CheckConstraint("event_type IN ('CREATE', 'UPDATE', 'DELETE')", name=op.f("ck_rule_event_type")),
        sa.CheckConstraint("severity IN ('BLOCK', 'WARN')", name=op.f("ck_rule_severity")),
        sa.ForeignKeyConstraint(["created_by_id"], ["app_user.id"], name=op.f("fk_rule_created_by_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule")),
    )
    op.create_index(
        "ix_rule_target_event", "rule", ["target", "event_type", "enabled", "position", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_rule_target_event", table_name="rule")
    op.drop_table("rule")
