"""IMAP channel of ingest: leased polling of tenants' mailboxes, and backfill.

Public surface: `ImapPoller` (started by the ingest app), `ImapSettings`
(env INGEST_IMAP_*), `seal_imap_password` / `open_imap_password`
(postdesk_runtime.imap_credentials, shared with the gateway's admin API), `backfill`, and `AfterAction`.

Errors: `ConfigError` (a mailbox row that cannot be used), `BackfillError`
(a backfill that cannot start), `LeaseLostError` (internal: another replica
reads the mailbox); IMAP and connection failures are retried with a backoff
and recorded in imap_sync_state.last_error.
"""

from postdesk_runtime.imap_credentials import open_imap_password, seal_imap_password

from postdesk_ingest.imap.domain import BACKFILL_SOURCE, AfterAction, ConfigError
from postdesk_ingest.imap.poller import ImapPoller
from postdesk_ingest.imap.settings import ImapSettings
from postdesk_ingest.imap.sync import BackfillError, BackfillResult, LeaseLostError, backfill

__all__ = [
    "BACKFILL_SOURCE",
    "AfterAction",
    "BackfillError",
    "BackfillResult",
    "ConfigError",
    "ImapPoller",
    "ImapSettings",
    "LeaseLostError",
    "backfill",
    "open_imap_password",
    "seal_imap_password",
]
