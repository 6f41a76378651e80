"""the early-reply lookup's GIN indexes write through, without a pending list

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 18:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = ("ix_messages_in_reply_to", "ix_messages_references")


def upgrade() -> None:
    # With fastupdate on, new entries wait in a pending list (up to gin_pending_list_limit,
    # 4 MB) that every lookup reads in full until a vacuum merges it: the router's
    # early-reply lookup took up to 10 ms instead of 0.1 on a busy tenant. Turning it off
    # does not merge what is pending; gin_clean_pending_list does.
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
