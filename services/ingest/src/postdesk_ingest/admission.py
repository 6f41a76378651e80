"""Use case: check a mail's envelope recipients, then accept it or record it as rejected.

- With a `limiter`, the tenant's rate is checked once the recipients are
  resolved (keyed on the tenant when they name one, else on the first
  recipient's domain) and before anything is stored: `RateLimitedError`.
- No recipients given: accepted as before; the router decides.
- At least one known recipient: `accept_raw_mail` with every given
  recipient, and the tenant set when all known ones belong to one tenant.
- Only unknown recipients: the raw bytes are stored anyway (nothing is
  lost), an ingest log row "rejected" records why, nothing is published,
  and `RecipientsRejectedError` tells the channel to refuse permanently.

Errors: `RecipientsRejectedError`; `RateLimitedError`; `UnavailableError` as in
`accept_raw_mail`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import structlog
from postdesk_contracts.events import Channel
from sqlalchemy.exc import SQLAlchemyError

from postdesk_ingest import recipients_db
from postdesk_ingest.domain import DedupeKey
from postdesk_ingest.ratelimit import RateLimiter
from postdesk_ingest.recipients import RecipientDirectory, single_tenant, unknown_reason
from postdesk_ingest.service import Accepted, Ports, UnavailableError, accept_raw_mail

log = structlog.get_logger(__name__)


class RecipientsRejectedError(Exception):
    """None of the envelope recipients is ours; the mail is stored and logged as rejected."""

    def __init__(self, unknown: Sequence[str], raw_blob_ref: str) -> None:
        self.unknown = list(unknown)
        self.raw_blob_ref = raw_blob_ref
        self.reason = unknown_reason(self.unknown)
        super().__init__(self.reason)


async def admit_raw_mail(
    raw: bytes,
    recipients: Sequence[str],
    ports: Ports,
    directory: RecipientDirectory,
    *,
    channel: Channel = Channel.WEBHOOK,
    source: str = "webhook",
    envelope_sender: str | None = None,
    limiter: RateLimiter | None = None,
) -> Accepted:
    """Accept `raw` if a recipient is known (or none is given); see the module docstring."""
    resolved = await directory.resolve(recipients)
    tenant_id = single_tenant(resolved.values())
    if limiter is not None:
        limiter.check_tenant(recipients, tenant_id)
    if resolved and not any(r.known for r in resolved.values()):
        unknown = list(resolved)
        raw_blob_ref = await reject_raw_mail(raw, recipients, ports, reason=unknown_reason(unknown))
        raise RecipientsRejectedError(unknown, raw_blob_ref)
    return await accept_raw_mail(
        raw,
        recipients,
        ports,
        channel=channel,
        source=source,
        tenant_id=tenant_id,
        envelope_sender=envelope_sender,
    )


async def reject_raw_mail(
    raw: bytes, recipients: Sequence[str], ports: Ports, *, reason: str
) -> str:
    """Store `raw` and record an ingest log row "rejected" with `reason`; returns the blob ref."""
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        raw_blob_ref = await ports.blobs.put(raw)
    except OSError as error:
        raise UnavailableError("blob store") from error
    try:
        async with ports.sessions() as session, session.begin():
            await recipients_db.record_rejected(
                session,
                dedupe_key=str(DedupeKey.of(sha256, recipients)),
                sha256=sha256,
                raw_blob_ref=raw_blob_ref,
                detail=reason,
            )
    except (SQLAlchemyError, OSError) as error:
        raise UnavailableError("database") from error
    log.info("mail rejected", reason=reason, raw_blob_ref=raw_blob_ref)
    return raw_blob_ref
