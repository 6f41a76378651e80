"""Sending due outbound messages through the tenant's SMTP server (ADR 0009).

`send_due` claims due rows (scheduled or retrying, `next_attempt_at` passed)
and makes one attempt each:

1. claim: status `sending`, attempts + 1, committed before any I/O;
2. the tenant's SMTP server (none: failed for good), its quotas (full:
   back to `retrying` until a slot frees, not counted as an attempt), the
   message rendered (unusable request: failed for good);
3. the raw message stored in the blob store, before it is sent;
4. the SMTP transaction, committing `transmitting_at` right before DATA;
5. the outcome recorded with its event in one transaction: sent (mail.sent),
   failed (5xx: mail.failed with the server's answer), retrying (4xx or a
   connection error: exponential backoff with full jitter), or dead (the
   last attempt failed: mail.failed and the request with its history in the
   dead-letter queue `outbound.outbound.requested.dlq`).

A sender that stops between 1 and 5 leaves its row in `sending`;
`recover_stalled` takes rows claimed longer than the lease ago back to
`retrying`. Without `transmitting_at` nothing reached DATA, so nothing was
sent. With it, the server may have accepted the message in the moment
between its 250 and our commit: the message is sent again with the same
Message-ID (a rare duplicate that mail clients collapse, rather than an
agent's reply lost) and the attempt log says so.

Each attempt is cut off after half the lease, so a live sender never still
holds a row that recovery hands to another.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from postdesk_contracts import (
    EventType,
    MailFailed,
    MailSent,
    OutboundRequested,
    new_envelope,
)
from postdesk_contracts.envelope import Envelope, Payload, derived_event_id
from postdesk_contracts.topology import queue_for
from postdesk_runtime import BlobNotFoundError, BlobStore, Sessions, ThreadTokens, outbox_row
from postdesk_runtime.failpoints import failpoint
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_runtime.metrics import record_smtp_result
from postdesk_runtime.outbox import dead_letter_row
from postdesk_smtp.client import Outcome, TransmitResult, transmit
from postdesk_smtp.quota import QuotaBlock, quota_block
from postdesk_smtp.settings import SmtpSettingsError, SmtpTarget, load_target
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_outbound import db
from postdesk_outbound.db import Claim
from postdesk_outbound.domain import (
    CRASH_BEFORE_TRANSACTION,
    CRASH_DURING_TRANSACTION,
    NO_SMTP_REASON,
    RETRY_BASE,
    RETRY_CAP,
    OutboundStatus,
    gave_up_reason,
    log_entry,
    retry_delay,
)
from postdesk_outbound.policy import OutboundPolicy, usable_policy
from postdesk_outbound.render import Rendered, render
from postdesk_outbound.service import SERVICE

DEFAULT_BATCH = 20
DEFAULT_LEASE = timedelta(minutes=10)
BEFORE_DATA = "outbound.before_data"
AFTER_DATA = "outbound.after_data"
DEAD_LETTER_QUEUE = queue_for(SERVICE, EventType.OUTBOUND_REQUESTED)
# Results decided before any SMTP session: they carry no server's answer.
_NOT_SMTP_STAGES = frozenset({"request", "settings", "render"})

log = structlog.get_logger(__name__)


class _Clock:
    """The time a run works with: fixed when a test drives it, else the wall clock."""

    def __init__(self, fixed: datetime | None) -> None:
        self._fixed = fixed

    def __call__(self) -> datetime:
        return self._fixed or datetime.now(UTC)


@dataclass(frozen=True)
class _Tools:
    sessions: Sessions
    blobs: BlobStore
    keyring: Keyring
    tokens: ThreadTokens
    clock: _Clock
    attempt_timeout: float
    retry_base: timedelta = RETRY_BASE
    retry_cap: timedelta = RETRY_CAP


class _ClaimLostError(Exception):
    """Recovery took the row from this sender (it outlived the lease): it must not send."""


@dataclass
class _Attempt:
    claim: Claim
    policy: OutboundPolicy
    transmitting: bool = False
    raw_blob_ref: str | None = None
    message_id: str | None = None


async def send_due(
    sessions: Sessions,
    blobs: BlobStore,
    keyring: Keyring,
    tokens: ThreadTokens,
    *,
    now: datetime | None = None,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
    retry_base: timedelta = RETRY_BASE,
    retry_cap: timedelta = RETRY_CAP,
) -> int:
    """Make one attempt at each of up to `batch` due messages; the number claimed.

    Tenants are served side by side, each tenant's messages one after the
    other, so one replica counts a tenant's quotas exactly.
    """
    clock = _Clock(now)
    async with sessions() as session, session.begin():
        claims = await db.claim_due(session, now=clock(), batch=batch)
        settings = await db.tenant_settings(session, list({c.tenant_id for c in claims}))
    if not claims:
        return 0
    tools = _Tools(
        sessions,
        blobs,
        keyring,
        tokens,
        clock,
        lease.total_seconds() / 2,
        retry_base,
        retry_cap,
    )
    by_tenant: dict[uuid.UUID, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_tenant[claim.tenant_id].append(claim)
    outcomes = await asyncio.gather(
        *(
            _send_in_turn(tools, tenant_claims, settings.get(tenant_id, {}))
            for tenant_id, tenant_claims in by_tenant.items()
        ),
        return_exceptions=True,  # one tenant's trouble (the database gone) must not orphan the others
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return len(claims)


async def recover_stalled(
    sessions: Sessions,
    *,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    batch: int = DEFAULT_BATCH,
) -> int:
    """Put messages whose sender stopped mid-attempt back to `retrying` (or `dead` at the last attempt)."""
    now = now or datetime.now(UTC)
    async with sessions() as session, session.begin():
        stalled = await db.claim_stalled(session, claimed_before=now - lease, batch=batch)
        settings = await db.tenant_settings(session, list({c.tenant_id for c in stalled}))
        for claim in stalled:
            detail = CRASH_DURING_TRANSACTION if claim.transmitting_at else CRASH_BEFORE_TRANSACTION
            policy, _ = usable_policy(settings.get(claim.tenant_id))
            log.warning("outbound attempt recovered", outbound_id=str(claim.id), detail=detail)
            entry = log_entry(now, "recovered", detail, attempt=claim.attempts)
            if claim.attempts >= policy.max_attempts:
                await _give_up(session, claim, entry, now=now)
            else:
                await db.settle(
                    session,
                    claim,
                    OutboundStatus.RETRYING,
                    now=now,
                    entry=entry,
                    next_attempt_at=now,
                )
    return len(stalled)


async def _send_in_turn(tools: _Tools, claims: list[Claim], settings: dict[str, Any]) -> None:
    policy, policy_error = usable_policy(settings)
    if policy_error:
        log.warning("unusable outbound settings; using defaults", reason=policy_error)
    pending = list(claims)
    attempt: _Attempt | None = None
    try:
        while pending:
            attempt = _Attempt(pending[0], policy)
            await _attempt(tools, attempt)
            pending.pop(0)
            attempt = None
    except asyncio.CancelledError:
        # Shutting down: what has not reached DATA goes back now rather than after the lease.
        unstarted = [c for c in pending if attempt is None or c is not attempt.claim]
        if attempt is not None and not attempt.transmitting:
            unstarted.append(attempt.claim)
        await asyncio.shield(_release(tools, unstarted))
        raise


async def _release(tools: _Tools, claims: Iterable[Claim]) -> None:
    now = tools.clock()
    async with tools.sessions() as session, session.begin():
        for claim in claims:
            await db.settle(
                session,
                claim,
                OutboundStatus.RETRYING,
                now=now,
                entry=log_entry(now, "released", "the sender stopped before the SMTP transaction"),
                next_attempt_at=now,
                attempts=claim.attempts - 1,
            )


async def _attempt(tools: _Tools, attempt: _Attempt) -> None:
    """One attempt at one claimed message, ending in one recorded outcome (or none if the claim was lost)."""
    claim = attempt.claim
    deadline = asyncio.timeout(tools.attempt_timeout)
    try:
        async with deadline:
            result = await _prepare_and_transmit(tools, attempt)
    except _ClaimLostError:
        log.warning("outbound claim lost to recovery; not sending", outbound_id=str(claim.id))
        return
    except Exception as error:  # the row must end its attempt whatever broke; retried later
        if isinstance(error, TimeoutError) and deadline.expired():
            result = _timed_out(tools, attempt)
        else:
            log.exception("outbound attempt failed", outbound_id=str(claim.id))
            reason = f"{type(error).__name__}: {error}"
            result = TransmitResult(Outcome.TEMPORARY, reason, "internal")
    if result is None:
        return  # deferred by a quota: recorded already
    await _record(tools, attempt, result)


def _timed_out(tools: _Tools, attempt: _Attempt) -> TransmitResult:
    during = "during" if attempt.transmitting else "before"
    detail = f"timed out after {tools.attempt_timeout:g} s {during} the SMTP transaction"
    if attempt.transmitting:
        detail += "; the server may have the message: a retry may duplicate it (same Message-ID)"
    return TransmitResult(Outcome.TEMPORARY, detail, "timeout")


@dataclass(frozen=True)
class _Ready:
    target: SmtpTarget
    rendered: Rendered


async def _prepare_and_transmit(tools: _Tools, attempt: _Attempt) -> TransmitResult | None:
    """The attempt's result; None when a full quota deferred it (recorded already)."""
    prepared = await _prepare(tools, attempt)
    if isinstance(prepared, QuotaBlock):
        await _defer(tools, attempt, prepared)
        return None
    if isinstance(prepared, TransmitResult):
        return prepared
    rendered = prepared.rendered
    data = rendered.message.as_bytes()
    attempt.raw_blob_ref = await tools.blobs.put(data)
    attempt.message_id = rendered.message_id

    async def before_data() -> None:
        await _mark_transmitting(tools, attempt, rendered)

    result = await transmit(
        prepared.target,
        envelope_from=rendered.envelope_from,
        recipients=rendered.recipients,
        data=data,
        before_data=before_data,
    )
    if attempt.transmitting:
        failpoint(AFTER_DATA)
    return result


async def _prepare(tools: _Tools, attempt: _Attempt) -> _Ready | TransmitResult | QuotaBlock:
    """Server, quota and message, read in one short session: ready to send, the result that
    ends the attempt here, or the full quota."""
    claim = attempt.claim
    try:
        request = OutboundRequested.model_validate(claim.request)
    except ValidationError as error:
        return TransmitResult(Outcome.PERMANENT, f"stored request unreadable: {error}", "request")
    async with tools.sessions() as session:
        try:
            target = await load_target(
                session, tools.keyring, tenant_id=claim.tenant_id, account_id=claim.account_id
            )
        except (SmtpSettingsError, KeyringError) as error:
            # An admin can fix the server settings: retried until then, or until the last attempt.
            reason = f"the SMTP server settings cannot be used: {error}"
            return TransmitResult(Outcome.TEMPORARY, reason, "settings")
        if target is None:
            return TransmitResult(Outcome.PERMANENT, NO_SMTP_REASON, "settings")
        block = await quota_block(
            session,
            attempt.policy.quota,
            tenant_id=claim.tenant_id,
            account_id=claim.account_id,
            requested_by=claim.requested_by,
            now=tools.clock(),
        )
        if block is not None:
            return block
        try:
            rendered = await render(
                session,
                tools.blobs,
                request,
                tenant_id=claim.tenant_id,
                tokens=tools.tokens,
                policy=attempt.policy,
            )
        except (ValueError, BlobNotFoundError) as error:
            return TransmitResult(Outcome.PERMANENT, f"cannot be sent: {error}", "render")
    return _Ready(target, rendered)


async def _mark_transmitting(tools: _Tools, attempt: _Attempt, rendered: Rendered) -> None:
    assert attempt.raw_blob_ref is not None
    async with tools.sessions() as session, session.begin():
        held = await db.mark_transmitting(
            session,
            attempt.claim,
            now=tools.clock(),
            raw_blob_ref=attempt.raw_blob_ref,
            message_id=rendered.message_id,
        )
    if not held:
        raise _ClaimLostError
    attempt.transmitting = True
    failpoint(BEFORE_DATA)


async def _defer(tools: _Tools, attempt: _Attempt, block: QuotaBlock) -> None:
    """Wait for the quota: back to `retrying` until a slot frees; the attempt is not counted."""
    claim, now = attempt.claim, tools.clock()
    async with tools.sessions() as session, session.begin():
        await db.settle(
            session,
            claim,
            OutboundStatus.RETRYING,
            now=now,
            entry=log_entry(now, "quota", f"deferred: {block.describe()}"),
            next_attempt_at=block.until,
            attempts=claim.attempts - 1,
        )
    log.info("outbound deferred by quota", outbound_id=str(claim.id), quota=block.name)


async def _record(tools: _Tools, attempt: _Attempt, result: TransmitResult) -> None:
    claim, now = attempt.claim, tools.clock()
    record_smtp_result(result.outcome.value)
    entry = log_entry(
        now, result.stage, result.response, outcome=result.outcome.value, attempt=claim.attempts
    )
    async with tools.sessions() as session, session.begin():
        if result.outcome is Outcome.SENT:
            settled = await _sent(session, attempt, result, entry, now=now)
        elif result.outcome is Outcome.PERMANENT:
            settled = await _failed(session, claim, result, entry, now=now)
        elif claim.attempts >= attempt.policy.max_attempts:
            settled = await _give_up(session, claim, entry, now=now)
        else:
            retry_at = now + retry_delay(claim.attempts, base=tools.retry_base, cap=tools.retry_cap)
            settled = await db.settle(
                session,
                claim,
                OutboundStatus.RETRYING,
                now=now,
                entry=entry | {"retry_at": retry_at.isoformat()},
                next_attempt_at=retry_at,
                smtp_response=result.response,
            )
    log.info(
        "outbound attempt",
        outbound_id=str(claim.id),
        outcome=result.outcome.value,
        stage=result.stage,
        attempt=claim.attempts,
        recorded=settled,
    )


async def _sent(
    session: AsyncSession,
    attempt: _Attempt,
    result: TransmitResult,
    entry: dict[str, Any],
    *,
    now: datetime,
) -> bool:
    claim = attempt.claim
    assert attempt.message_id is not None
    if not await db.settle(
        session,
        claim,
        OutboundStatus.SENT,
        now=now,
        entry=entry,
        smtp_response=result.response,
        sent_at=now,
        failure_reason="",
        raw_blob_ref=attempt.raw_blob_ref,
        message_id_header=attempt.message_id,
    ):
        return False
    payload = MailSent(
        outbound_id=claim.id,
        account_id=claim.account_id,
        ticket_id=claim.ticket_id,
        message_id=attempt.message_id,
        smtp_response=result.response,
        raw_blob_ref=attempt.raw_blob_ref,
        sent_at=now,
    )
    session.add(outbox_row(SERVICE, _event(EventType.MAIL_SENT, payload, claim)))
    return True


async def _failed(
    session: AsyncSession,
    claim: Claim,
    result: TransmitResult,
    entry: dict[str, Any],
    *,
    now: datetime,
) -> bool:
    if not await db.settle(
        session,
        claim,
        OutboundStatus.FAILED,
        now=now,
        entry=entry,
        failure_reason=result.response,
        smtp_response="" if result.stage in _NOT_SMTP_STAGES else result.response,
    ):
        return False
    _emit_failed(session, claim, result.response)
    return True


async def _give_up(
    session: AsyncSession, claim: Claim, entry: dict[str, Any], *, now: datetime
) -> bool:
    """Dead: mail.failed, and the request with its whole history into the dead-letter queue."""
    reason = gave_up_reason(claim.attempts, entry["detail"])
    if not await db.settle(
        session, claim, OutboundStatus.DEAD, now=now, entry=entry, failure_reason=reason
    ):
        return False
    _emit_failed(session, claim, reason)
    history = [*claim.attempt_log, entry]
    session.add(
        dead_letter_row(
            SERVICE,
            DEAD_LETTER_QUEUE,
            _original_request(claim),
            row_id=derived_event_id(claim.id, "dead-letter"),
            history=history,
            reason=reason,
        )
    )
    log.warning("outbound message dead", outbound_id=str(claim.id), reason=reason)
    return True


def _emit_failed(session: AsyncSession, claim: Claim, reason: str) -> None:
    payload = MailFailed(
        outbound_id=claim.id,
        account_id=claim.account_id,
        ticket_id=claim.ticket_id,
        reason=reason,
        permanent=True,
    )
    session.add(outbox_row(SERVICE, _event(EventType.MAIL_FAILED, payload, claim)))


def _requested(claim: Claim) -> dict[str, Any]:
    """The attempt_log entry the consumer wrote when it recorded the request."""
    first = claim.attempt_log[0] if claim.attempt_log else {}
    return first if first.get("stage") == "requested" and first.get("event_id") else {}


def _event(event_type: EventType, payload: Payload, claim: Claim) -> Envelope[Any]:
    """The message's one event of `event_type` (id derived from outbound_id), in the request's trace."""
    envelope = new_envelope(
        event_type,
        payload,
        tenant_id=claim.tenant_id,
        event_id=derived_event_id(claim.id, event_type.value),
    )
    requested = _requested(claim)
    if not requested:
        return envelope
    return envelope.model_copy(
        update={
            "correlation_id": uuid.UUID(requested["correlation_id"]),
            "causation_id": uuid.UUID(requested["event_id"]),
        }
    )


def _original_request(claim: Claim) -> Envelope[Any]:
    """outbound.requested as it arrived (same event id and correlation), for the dead-letter queue."""
    try:
        request = OutboundRequested.model_validate(claim.request)
    except ValidationError:  # kept as stored: the dead-letter queue is where to look at it
        request = OutboundRequested.model_construct(**claim.request)
    requested = _requested(claim)
    if not requested:
        return new_envelope(EventType.OUTBOUND_REQUESTED, request, tenant_id=claim.tenant_id)
    return new_envelope(
        EventType.OUTBOUND_REQUESTED,
        request,
        tenant_id=claim.tenant_id,
        event_id=uuid.UUID(requested["event_id"]),
    ).model_copy(
        update={
            "correlation_id": uuid.UUID(requested["correlation_id"]),
            "occurred_at": datetime.fromisoformat(requested["at"]),
        }
    )
