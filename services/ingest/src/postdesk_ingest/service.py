"""Use case: accept one raw mail, durably, and announce it.

Order, so that a source is told "accepted" only once nothing can be lost:
1. blob put (fsynced, content-addressed);
2. processing-log row "stored" committed (unique per stage and dedupe key);
3. mail.received published and confirmed by the broker, with an event id
   derived from the dedupe key;
4. row marked "published"; only then the caller answers 2xx.
A retry after a failure in 2-4 repeats the missing steps under the same
event id; a retry after 4 is a duplicate and publishes nothing. Two
identical posts racing through step 3 may both publish: the event id is the
same, and consumers deduplicate on it.

Errors: `UnavailableError` when the blob store, the database or the broker
fails (the source should retry later).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog
from opentelemetry.trace import Tracer
from postdesk_contracts import EventType, MailReceived, new_envelope
from postdesk_contracts.events import Channel
from postdesk_runtime.blobstore import BlobStore
from postdesk_runtime.broker import EventPublisher
from postdesk_runtime.db import Sessions
from postdesk_runtime.failpoints import failpoint
from sqlalchemy.exc import SQLAlchemyError

from postdesk_ingest import db
from postdesk_ingest.domain import DedupeKey

log = structlog.get_logger(__name__)


class UnavailableError(Exception):
    """A dependency of ingest failed; nothing was acknowledged, the source should retry."""

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency} unavailable")
        self.dependency = dependency


@dataclass(frozen=True)
class Ports:
    """What accepting a mail talks to."""

    blobs: BlobStore
    sessions: Sessions
    publisher: EventPublisher
    tracer: Tracer
    publish_timeout: float = 10.0


@dataclass(frozen=True)
class Accepted:
    status: Literal["accepted", "duplicate"]
    event_id: uuid.UUID
    raw_blob_ref: str


async def accept_raw_mail(
    raw: bytes,
    recipients: Sequence[str],
    ports: Ports,
    *,
    channel: Channel = Channel.WEBHOOK,
    source: str = "webhook",
    tenant_id: uuid.UUID | None = None,
    envelope_sender: str | None = None,
) -> Accepted:
    """Store `raw`, log it and publish mail.received with a confirm; see the module docstring."""
    with ports.tracer.start_as_current_span("ingest.accept_raw_mail") as span:
        sha256 = hashlib.sha256(raw).hexdigest()
        key = DedupeKey.of(sha256, recipients)
        span.set_attribute("postdesk.event_id", str(key.event_id))
        try:
            raw_blob_ref = await ports.blobs.put(raw)
        except OSError as error:
            log.error("blob store failed", error=str(error))
            raise UnavailableError("blob store") from error
        try:
            async with ports.sessions() as session, session.begin():
                status = await db.record_stored(
                    session,
                    dedupe_key=str(key),
                    sha256=sha256,
                    raw_blob_ref=raw_blob_ref,
                    event_id=key.event_id,
                    detail=source,
                )
        except (SQLAlchemyError, OSError) as error:
            log.error("database failed", error=str(error))
            raise UnavailableError("database") from error
        if status == db.PUBLISHED:
            log.debug("duplicate mail", event_id=str(key.event_id))
            return Accepted("duplicate", key.event_id, raw_blob_ref)
        failpoint("ingest.after_store")  # kill tests: die between the stored row and the publish
        envelope = new_envelope(
            EventType.MAIL_RECEIVED,
            MailReceived(
                raw_blob_ref=raw_blob_ref,
                sha256=sha256,
                size=len(raw),
                channel=channel,
                envelope_sender=envelope_sender,
                envelope_recipients=list(key.recipients),
                received_at=datetime.now(UTC),
                source=source,
            ),
            event_id=key.event_id,
            tenant_id=tenant_id,
        )
        try:
            async with asyncio.timeout(ports.publish_timeout):
                await ports.publisher.publish(envelope)
        except Exception as error:
            # whatever stopped the confirm (closed connection, returned message,
            # timeout), the mail is not accepted and the source must retry
            log.error("publish failed", error=repr(error), event_id=str(key.event_id))
            raise UnavailableError("broker") from error
        try:
            async with ports.sessions() as session, session.begin():
                await db.mark_published(session, dedupe_key=str(key))
        except (SQLAlchemyError, OSError) as error:
            # published but not marked: a retry republishes the same event id
            log.error("database failed after publish", error=str(error))
            raise UnavailableError("database") from error
        log.debug("mail accepted", event_id=str(key.event_id), size=len(raw))
        return Accepted("accepted", key.event_id, raw_blob_ref)
