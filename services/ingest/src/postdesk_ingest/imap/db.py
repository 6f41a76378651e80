"""IMAP mailboxes and their sync state: leases, read position, progress.

A lease is a row of imap_sync_state whose lease_owner is a replica and
whose lease_expires_at (database time) is in the future. Claiming is one
UPDATE ... RETURNING over rows picked FOR UPDATE SKIP LOCKED, so two
replicas never claim the same mailbox. Every write of the read position is
fenced on lease_owner: a replica that lost its lease cannot move it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class MailboxRow:
    """One imap_mailboxes row joined with its account's address (password still encrypted)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    address: str
    host: str
    port: int
    security: str
    username: str
    password_ciphertext: str
    folder: str
    after_action: str
    move_to_folder: str | None
    poll_interval_seconds: int
    use_idle: bool


@dataclass(frozen=True)
class SyncState:
    uidvalidity: int | None
    last_uid: int
    lease_owner: str | None


# A new state row: the table has no server defaults for these.
_STATE_COLUMNS = "mailbox_id, last_uid, messages_fetched, backfill_done, last_error"
_STATE_DEFAULTS = "0, 0, 0, ''"
_MAILBOX_COLUMNS = """
    m.id, m.tenant_id, a.address, m.host, m.port, m.security, m.username, m.password_ciphertext,
    m.folder, m.after_action, m.move_to_folder, m.poll_interval_seconds, m.use_idle
"""


async def load_mailbox(session: AsyncSession, mailbox_id: uuid.UUID) -> MailboxRow | None:
    """The mailbox if it exists and is active."""
    row = (
        await session.execute(
            text(
                f"SELECT {_MAILBOX_COLUMNS} FROM imap_mailboxes m "  # noqa: S608  # constant column list
                "JOIN email_accounts a ON a.id = m.account_id WHERE m.id = :id AND m.is_active"
            ),
            {"id": mailbox_id},
        )
    ).one_or_none()
    return MailboxRow(**row._mapping) if row is not None else None


async def ensure_states(session: AsyncSession) -> None:
    """Create the missing state rows of active mailboxes; existing rows are not touched.

    Run it in a transaction of its own: an INSERT ... ON CONFLICT that meets a row
    another replica is updating waits for it, which deadlocks two claiming replicas.
    """
    await session.execute(
        text(
            f"INSERT INTO imap_sync_state ({_STATE_COLUMNS}) "  # noqa: S608  # constant column list
            f"SELECT m.id, {_STATE_DEFAULTS} FROM imap_mailboxes m WHERE m.is_active "
            "AND NOT EXISTS (SELECT 1 FROM imap_sync_state s WHERE s.mailbox_id = m.id) "
            "ON CONFLICT DO NOTHING"
        )
    )


async def claim(
    session: AsyncSession, *, owner: str, lease_seconds: float, limit: int
) -> list[uuid.UUID]:
    """Take up to `limit` active mailboxes whose lease is free or expired (see ensure_states)."""
    if limit <= 0:
        return []
    result = await session.execute(
        text(
            """
            UPDATE imap_sync_state s
               SET lease_owner = :owner,
                   lease_expires_at = now() + make_interval(secs => :lease)
              FROM (SELECT s2.mailbox_id
                      FROM imap_sync_state s2
                      JOIN imap_mailboxes m ON m.id = s2.mailbox_id
                     WHERE m.is_active
                       AND (s2.lease_owner IS NULL OR s2.lease_expires_at IS NULL
                            OR s2.lease_expires_at < now())
                     ORDER BY s2.lease_expires_at NULLS FIRST
                     LIMIT :limit
                       FOR UPDATE OF s2 SKIP LOCKED) free
             WHERE s.mailbox_id = free.mailbox_id
            RETURNING s.mailbox_id
            """
        ),
        {"owner": owner, "lease": lease_seconds, "limit": limit},
    )
    return list(result.scalars())


async def renew(
    session: AsyncSession, *, owner: str, lease_seconds: float, mailbox_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Extend the leases still held on active mailboxes; the others are lost."""
    if not mailbox_ids:
        return set()
    result = await session.execute(
        text(
            """
            UPDATE imap_sync_state s
               SET lease_expires_at = now() + make_interval(secs => :lease)
              FROM imap_mailboxes m
             WHERE m.id = s.mailbox_id AND m.is_active
               AND s.mailbox_id = ANY(:ids) AND s.lease_owner = :owner
            RETURNING s.mailbox_id
            """
        ),
        {"owner": owner, "lease": lease_seconds, "ids": list(mailbox_ids)},
    )
    return set(result.scalars())


async def release(
    session: AsyncSession, *, owner: str, mailbox_ids: Sequence[uuid.UUID] | None = None
) -> None:
    """Give leases back (all of this owner's when `mailbox_ids` is None)."""
    await session.execute(
        text(
            "UPDATE imap_sync_state SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE lease_owner = :owner AND (CAST(:all AS boolean) OR mailbox_id = ANY(:ids))"
        ),
        {"owner": owner, "all": mailbox_ids is None, "ids": list(mailbox_ids or [])},
    )


async def load_state(session: AsyncSession, mailbox_id: uuid.UUID) -> SyncState | None:
    row = (
        await session.execute(
            text(
                "SELECT uidvalidity, last_uid, lease_owner FROM imap_sync_state WHERE mailbox_id = :id"
            ),
            {"id": mailbox_id},
        )
    ).one_or_none()
    return SyncState(row.uidvalidity, row.last_uid, row.lease_owner) if row is not None else None


async def set_position(
    session: AsyncSession,
    mailbox_id: uuid.UUID,
    *,
    owner: str | None,
    uidvalidity: int,
    last_uid: int,
) -> bool:
    """Record a new UIDVALIDITY and position; False if `owner` does not hold the lease.

    `owner=None` is for the CLI setting up a mailbox nobody polls yet.
    """
    result = await session.execute(
        text(
            "UPDATE imap_sync_state SET uidvalidity = :uv, last_uid = :uid "
            "WHERE mailbox_id = :id AND (CAST(:owner AS text) IS NULL OR lease_owner = :owner) "
            "RETURNING mailbox_id"
        ),
        {"id": mailbox_id, "owner": owner, "uv": uidvalidity, "uid": last_uid},
    )
    return result.first() is not None


async def advance(
    session: AsyncSession,
    mailbox_id: uuid.UUID,
    *,
    owner: str,
    uidvalidity: int,
    uid: int,
    fetched: int,
) -> bool:
    """Move the position past `uid` (never backwards); False if the lease or UIDVALIDITY moved on."""
    result = await session.execute(
        text(
            """
            UPDATE imap_sync_state
               SET last_uid = GREATEST(last_uid, :uid),
                   messages_fetched = messages_fetched + :fetched
             WHERE mailbox_id = :id AND lease_owner = :owner AND uidvalidity = :uv
            RETURNING mailbox_id
            """
        ),
        {"id": mailbox_id, "owner": owner, "uv": uidvalidity, "uid": uid, "fetched": fetched},
    )
    return result.first() is not None


async def record_poll(
    session: AsyncSession, mailbox_id: uuid.UUID, *, owner: str, error: str = ""
) -> None:
    """Stamp last_polled_at and last_error ("" after a good poll)."""
    await session.execute(
        text(
            "UPDATE imap_sync_state SET last_polled_at = now(), last_error = :error "
            "WHERE mailbox_id = :id AND lease_owner = :owner"
        ),
        {"id": mailbox_id, "owner": owner, "error": error[:2000]},
    )


async def ensure_state(session: AsyncSession, mailbox_id: uuid.UUID) -> None:
    await session.execute(
        text(
            f"INSERT INTO imap_sync_state ({_STATE_COLUMNS}) "  # noqa: S608  # constant column list
            f"VALUES (:id, {_STATE_DEFAULTS}) ON CONFLICT DO NOTHING"
        ),
        {"id": mailbox_id},
    )


async def record_backfill(
    session: AsyncSession, mailbox_id: uuid.UUID, *, total: int, done: int
) -> None:
    await session.execute(
        text(
            "UPDATE imap_sync_state SET backfill_total = :total, backfill_done = :done "
            "WHERE mailbox_id = :id"
        ),
        {"id": mailbox_id, "total": total, "done": done},
    )
