"""Where mail comes in: tenants' own domains, generated inbound addresses, IMAP mailboxes.

Owners: the gateway (admin API) and the CLI write the configuration tables
(inbound_domains, inbound_addresses, imap_mailboxes); ingest writes only
imap_sync_state, the progress and lease of each mailbox.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import id_field, optional_timestamp, timestamp


class InboundDomain(SQLModel, table=True):
    """A domain whose mail belongs to one tenant (acme.example)."""

    __tablename__ = "inbound_domains"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    domain: str = Field(unique=True, description="lower-cased, without @")
    catch_all_account_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="email_accounts.id",
        description="account for addresses of this domain that match no account; None refuses them",
    )
    created_at: datetime = timestamp()


class InboundAddress(SQLModel, table=True):
    """A generated address (tenant-7f3a@in.postdesk.example) that delivers to an account."""

    __tablename__ = "inbound_addresses"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    address: str = Field(unique=True, description="lower-cased")
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    is_active: bool = True
    created_at: datetime = timestamp()


class ImapMailbox(SQLModel, table=True):
    """An IMAP folder ingest reads for an account, with credentials encrypted at rest."""

    __tablename__ = "imap_mailboxes"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    host: str
    port: int = 993
    security: str = Field(default="ssl", description="ssl, starttls or plain")
    username: str
    password_ciphertext: str = Field(
        sa_column=Column(Text, nullable=False), description="keyring token, never the password"
    )
    folder: str = "INBOX"
    after_action: str = Field(default="flag", description="flag, move or leave")
    move_to_folder: str | None = None
    poll_interval_seconds: int = 60
    use_idle: bool = True
    is_active: bool = True
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class ImapSyncState(SQLModel, table=True):
    """How far ingest has read a mailbox, and which replica holds its lease."""

    __tablename__ = "imap_sync_state"
    __table_args__ = (Index("ix_imap_sync_state_lease", "lease_expires_at"),)

    mailbox_id: uuid.UUID = Field(primary_key=True, foreign_key="imap_mailboxes.id")
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = optional_timestamp()
    last_polled_at: datetime | None = optional_timestamp()
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    messages_fetched: int = Field(default=0, sa_type=BigInteger)
    backfill_total: int | None = Field(default=None, sa_type=BigInteger)
    backfill_done: int = Field(default=0, sa_type=BigInteger)
