"""Use case: turn one mail.received into mail.parsed or mail.rejected.

Order, so that nothing is lost and redelivery is harmless:
1. read the raw blob; store the body document and attachments as blobs
   (content-addressed, so a redelivery writes the same refs);
2. commit the processing-log row (ON CONFLICT DO NOTHING on the received
   event id, so a redelivery leaves the first row alone);
3. publish the outcome with a confirm, under an id derived from the
   received event id, so a republished outcome carries the same id;
4. return -- and only then does the subscriber ack.

Malformed input is a clear answer (mail.rejected), never an exception.
Transient failures (blob store, database, broker) do raise: the message is
nacked, redelivered, and dead-lettered once the delivery limit is reached.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from postdesk_contracts import (
    Envelope,
    EventType,
    MailParsed,
    MailReceived,
    MailRejected,
    new_envelope,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import Attachment
from postdesk_runtime.blobstore import BlobStore
from postdesk_runtime.broker import EventPublisher
from postdesk_runtime.db import Sessions

from postdesk_parser import db
from postdesk_parser.domain import ParsedMail, UnparseableMailError, parse_mail
from postdesk_parser.limits import ParseLimits
from postdesk_parser.thread_keys import decode_thread_index, plus_tokens

log = structlog.get_logger(__name__)

MAX_REASON_CHARS = 500
# Big messages parse in a worker thread so the event loop keeps serving heartbeats and acks;
# small ones parse inline, where a thread hop would cost more than the parse.
PARSE_IN_THREAD_BYTES = 1024 * 1024
STAGE = "parser"


@dataclass(frozen=True)
class Ports:
    """What the parser's use case talks to."""

    blobs: BlobStore
    sessions: Sessions
    publisher: EventPublisher
    limits: ParseLimits = field(default_factory=ParseLimits)


async def handle_mail_received(received: Envelope[MailReceived], ports: Ports) -> Envelope[Any]:
    """Parse the raw mail of `received`; returns the event published (mail.parsed or mail.rejected)."""
    raw = await ports.blobs.get(received.payload.raw_blob_ref)
    try:
        parsed = (
            await asyncio.to_thread(partial(parse_mail, raw, limits=ports.limits))
            if len(raw) > PARSE_IN_THREAD_BYTES
            else parse_mail(raw, limits=ports.limits)
        )
    except UnparseableMailError as error:
        return await _reject(received, str(error), ports)
    except Exception as error:
        # Any crash on these bytes is malformed input, answered by mail.rejected.
        return await _reject(received, f"parser failed: {type(error).__name__}: {error}", ports)
    outcome = new_envelope(
        EventType.MAIL_PARSED,
        await mail_parsed_of(received.payload, parsed, ports.blobs),
        caused_by=received,
        event_id=derived_event_id(received.id, EventType.MAIL_PARSED.value),
    )
    limits = f"limits hit: {', '.join(parsed.limits_hit)}" if parsed.limits_hit else ""
    await _record_and_publish(
        received, outcome, "parsed", ports, message_id=parsed.message_id, detail=limits
    )
    log.debug("mail parsed", message_id=parsed.message_id, attachments=len(parsed.attachments))
    return outcome


async def mail_parsed_of(
    received: MailReceived, parsed: ParsedMail, blobs: BlobStore
) -> MailParsed:
    body = json.dumps(
        {
            "text": parsed.text,
            "html": parsed.html,
            "reply_text": parsed.reply_text,
            "signature": parsed.signature,
            "remote_images_blocked": parsed.remote_images_blocked,
        },
        ensure_ascii=False,
    ).encode()
    attachments = [
        Attachment(
            filename=part.filename,
            content_type=part.content_type,
            size=len(part.data),
            blob_ref=await blobs.put(part.data),
            content_id=part.content_id,
            inline=part.inline,
            sha256=part.sha256,
            sniffed_type=part.sniffed_type,
        )
        for part in parsed.attachments
    ]
    return MailParsed(
        raw_blob_ref=received.raw_blob_ref,
        sha256=received.sha256,
        body_blob_ref=await blobs.put(body),
        message_id=parsed.message_id,
        message_id_synthesised=parsed.message_id_synthesised,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        subject=parsed.subject,
        from_=parsed.from_,
        reply_to=parsed.reply_to,
        to=parsed.to,
        cc=parsed.cc,
        delivered_to=parsed.delivered_to,
        envelope_recipients=received.envelope_recipients,
        date=parsed.date,
        text_preview=parsed.text_preview,
        attachments=attachments,
        classification=parsed.classification,
        channel=received.channel,
        received_at=received.received_at,
        source=received.source,
        bounce=parsed.bounce,
        normalized_subject=parsed.normalized_subject,
        ticket_tag=parsed.ticket_tag,
        thread_index=parsed.thread_index,
        thread_root=thread.root if (thread := decode_thread_index(parsed.thread_index)) else None,
        # envelope recipients first: the headers' To/Cc may name other people's plus addresses
        plus_tokens=list(
            dict.fromkeys([*plus_tokens(received.envelope_recipients), *parsed.plus_tokens])
        ),
        language=parsed.language,
        sentiment=parsed.sentiment,
        has_calendar=parsed.has_calendar,
        limits_hit=parsed.limits_hit,
    )


async def _reject(received: Envelope[MailReceived], reason: str, ports: Ports) -> Envelope[Any]:
    reason = reason[:MAX_REASON_CHARS]
    outcome = new_envelope(
        EventType.MAIL_REJECTED,
        MailRejected(
            raw_blob_ref=received.payload.raw_blob_ref,
            sha256=received.payload.sha256,
            stage=STAGE,
            reason=reason,
        ),
        caused_by=received,
        event_id=derived_event_id(received.id, EventType.MAIL_REJECTED.value),
    )
    await _record_and_publish(received, outcome, "rejected", ports, detail=reason)
    log.info("mail rejected", reason=reason, raw_blob_ref=received.payload.raw_blob_ref)
    return outcome


async def _record_and_publish(
    received: Envelope[MailReceived],
    outcome: Envelope[Any],
    status: str,
    ports: Ports,
    *,
    message_id: str | None = None,
    detail: str = "",
) -> None:
    async with ports.sessions() as session, session.begin():
        first = await db.record_outcome(
            session,
            received_id=received.id,
            status=status,
            sha256=received.payload.sha256,
            raw_blob_ref=received.payload.raw_blob_ref,
            event_id=outcome.id,
            message_id_header=message_id,
            detail=detail,
        )
    if not first:
        log.debug("redelivered mail.received; publishing the same outcome again", status=status)
    await ports.publisher.publish(outcome)
