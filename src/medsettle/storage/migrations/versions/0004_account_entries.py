"""account entries: personal-account movements as an append-only list

Revision ID: 0004
Revises: 0003

Existing balances are carried over: each account's opening entry is its balance plus what the
ledger has drawn from it, followed by one entry per ledger row that moved it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_entries")),
    )
    with op.batch_alter_table("account_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_entries_psn_no"), ["psn_no"], unique=False)
    # amounts are integer fen in both tables
    op.execute(
        """
        INSERT INTO account_entries (psn_no, amount, kind, setl_id, created_at)
        SELECT a.psn_no,
               a.balance + COALESCE((SELECT SUM(s.acct_pay) FROM settlements s WHERE s.psn_no = a.psn_no), 0),
               'opening', NULL, CURRENT_TIMESTAMP
        FROM accounts a
        """
    )
    op.execute(
        """
        INSERT INTO account_entries (psn_no, amount, kind, setl_id, created_at)
        SELECT s.psn_no, -s.acct_pay,
               CASE WHEN s.init_setl_id IS NULL THEN 'settlement' ELSE 'reversal' END,
               s.setl_id, s.setl_time
        FROM settlements s WHERE s.acct_pay <> 0
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("account_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_entries_psn_no"))
    op.drop_table("account_entries")
