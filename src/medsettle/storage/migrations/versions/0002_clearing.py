"""clearing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:58:05.187932
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "clearing_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("settlement_count", sa.Integer(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_clearing_months")),
    )
    op.create_table(
        "prepayment_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prov", sa.String(length=6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prepayment_entries")),
    )
    with op.batch_alter_table("prepayment_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prepayment_entries_prov"), ["prov"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("prepayment_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prepayment_entries_prov"))

    op.drop_table("prepayment_entries")
    op.drop_table("clearing_months")
