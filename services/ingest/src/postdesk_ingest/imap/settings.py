"""IMAP channel settings (env INGEST_IMAP_*), composed into IngestSettings as `imap`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ImapSettings(BaseSettings):
    """How this replica polls IMAP mailboxes; per-mailbox options live in imap_mailboxes."""

    model_config = SettingsConfigDict(env_prefix="INGEST_IMAP_", extra="ignore", frozen=True)

    enabled: bool = Field(default=True, description="poll the active rows of imap_mailboxes")
    lease_seconds: float = Field(
        default=60.0, gt=0, description="a mailbox lease lasts this long unless renewed"
    )
    claim_interval_seconds: float = Field(
        default=10.0, gt=0, description="how often free mailboxes are looked for"
    )
    max_mailboxes: int = Field(
        default=50, ge=1, description="mailboxes one replica reads at once (one thread each)"
    )
    connect_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="connecting and logging in to a server is cut off after this",
    )
    idle_seconds: float = Field(
        default=300.0, gt=0, le=29 * 60, description="longest IDLE before a re-check (RFC 2177)"
    )
    fetch_batch: int = Field(default=10, ge=1, description="messages fetched per UID FETCH")
    backoff_initial_seconds: float = Field(
        default=1.0, gt=0, description="wait after a mailbox's first failure, doubling"
    )
    backoff_max_seconds: float = Field(
        default=60.0, gt=0, description="longest wait between a failing mailbox's attempts"
    )
