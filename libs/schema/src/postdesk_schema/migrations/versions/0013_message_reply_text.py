"""messages keep the parser's reply text

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table. Messages
    # stored before have none; `postdesk reparse` fills it in from their stored mail.
    op.add_column("messages", sa.Column("reply_text", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("messages", "reply_text")
