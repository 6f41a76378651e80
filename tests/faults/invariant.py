"""The one invariant every fault scenario is judged by: nothing accepted is lost or doubled.

A scenario knows which mails a source was told "accepted" (HTTP 202, SMTP
250). Whatever it did to the system meanwhile, once the system has settled
each of those mails must be:

| rule            | what holds                                                           |
|-----------------|----------------------------------------------------------------------|
| acknowledged    | ingest's processing-log row for its raw sha256 says `published`      |
| missing         | there is an inbound message for its (tenant, Message-ID)             |
| duplicate       | there is at most one such message                                    |
| ticket          | the message is on a ticket that exists and is live (not merged away) |
| matched         | the router matched the message once (`ticket_history` kind matched)  |
| assigned        | its ticket was assigned once (`ticket_history` kind assigned) and,   |
|                 | when the scenario expects it, has an assignee (`tickets.assignee_id`)|
| notified        | the assignee was told of the assignment once (one `notifications`    |
|                 | row of kind assigned, event_count 1); nobody was told of the new     |
|                 | ticket twice, nor of more replies than the ticket holds              |
| answered        | an answer the router requested (`ticket_history` kind auto_reply,    |
|                 | rule sent) was requested once and reached the SMTP sink as exactly   |
|                 | one mail in reply to it; nothing unrequested was sent in reply       |
| dead-letter     | every `<queue>.dlq` holds exactly what the scenario poisoned         |

Copies of one answer with the same Message-ID are the trade ADR 0009
documents (outbound killed after the server's 250, before its commit,
sends again rather than lose the reply); they are violations unless the
scenario allows them (`Expectations.resent_copies`).

`judge` decides on a `Snapshot` and returns every violation with its
detail; `snapshot` reads one from the database, the broker and the SMTP
sink's directory; `check` does both.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import aio_pika
from postdesk_cli.dead_letters import dead_letter_count
from postdesk_contracts.topology import SUBSCRIPTIONS
from postdesk_schema import Message, Notification, Ticket, TicketHistory
from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

INGEST_STAGE = "ingest"
PUBLISHED = "published"
ASSIGNED = "assigned"
MATCHED = "matched"
AUTO_REPLY = "auto_reply"
SENT_RULE = "sent"
UNASSIGNED_RULE = "unassigned"
NEW_TICKET = "new_ticket"
CUSTOMER_REPLY = "customer_reply"


def bare_message_id(message_id: str) -> str:
    """A Message-ID as postdesk stores it: without the angle brackets."""
    return message_id.strip().strip("<>").strip()


@dataclass(frozen=True)
class AcceptedMail:
    """A mail a source was told was accepted."""

    tenant_id: uuid.UUID
    message_id: str  # the Message-ID header, with or without <>
    sha256: str  # of the raw bytes the source sent

    @property
    def key(self) -> tuple[uuid.UUID, str]:
        return self.tenant_id, bare_message_id(self.message_id)

    def __str__(self) -> str:
        return f"<{bare_message_id(self.message_id)}> (sha256 {self.sha256[:12]})"


@dataclass(frozen=True)
class Expectations:
    """What the scenario did on purpose and what its tenant's setup promises."""

    # consumer queue name (e.g. "router.mail.parsed") -> messages poisoned into its .dlq
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    # every new ticket gets an assignee (the tenant has an always-available primary)
    assignee: bool = True
    # the assignee hears of each assignment (notifier running, default preferences)
    assignment_notified: bool = True
    # an answer may reach the sink more than once under one Message-ID (ADR 0009)
    resent_copies: bool = False


@dataclass(frozen=True)
class MessageRow:
    id: uuid.UUID
    tenant_id: uuid.UUID
    message_id: str
    ticket_id: uuid.UUID


@dataclass(frozen=True)
class TicketRow:
    id: uuid.UUID
    assignee_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    deleted: bool


@dataclass(frozen=True)
class HistoryRow:
    ticket_id: uuid.UUID
    kind: str
    rule: str
    message_id: uuid.UUID | None


@dataclass(frozen=True)
class NotificationRow:
    ticket_id: uuid.UUID | None
    user_id: uuid.UUID
    kind: str
    event_count: int


@dataclass(frozen=True)
class Snapshot:
    """What the database and the broker hold about the accepted mails' tenants."""

    ingest_statuses: Mapping[str, Sequence[str]]  # raw sha256 -> ingest log statuses
    messages: Sequence[MessageRow]  # inbound only
    tickets: Mapping[uuid.UUID, TicketRow]
    history: Sequence[HistoryRow]  # kinds matched, assigned and auto_reply
    notifications: Sequence[NotificationRow]
    dead_letters: Mapping[str, int]  # consumer queue name -> messages in its .dlq
    # customer Message-ID (bare) -> the Message-ID of each sink mail in reply to it;
    # None: the scenario has no sink to read
    answers: Mapping[str, Sequence[str]] | None = None


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject}: {self.detail}"


@dataclass(frozen=True)
class Report:
    accepted: int
    violations: tuple[Violation, ...]
    answers_requested: int = 0

    @property
    def holds(self) -> bool:
        return not self.violations

    def rules(self) -> set[str]:
        return {v.rule for v in self.violations}

    def __str__(self) -> str:
        if self.holds:
            return f"invariant holds for {self.accepted} accepted mails"
        lines = [f"{len(self.violations)} violations over {self.accepted} accepted mails:"]
        lines.extend(f"  {v}" for v in self.violations)
        return "\n".join(lines)


def judge(
    accepted: Iterable[AcceptedMail], snapshot: Snapshot, expect: Expectations | None = None
) -> Report:
    """Every violation of the invariant by `snapshot`, for the mails in `accepted`."""
    expect = expect or Expectations()
    mails = {mail.key: mail for mail in accepted}  # a mail accepted twice is one mail
    found: dict[tuple[uuid.UUID, str], list[MessageRow]] = defaultdict(list)
    for row in snapshot.messages:
        found[(row.tenant_id, bare_message_id(row.message_id))].append(row)
    matched = Counter(h.message_id for h in snapshot.history if h.kind == MATCHED)
    requested = Counter(
        h.message_id for h in snapshot.history if h.kind == AUTO_REPLY and h.rule == SENT_RULE
    )
    violations: list[Violation] = []
    tickets: dict[uuid.UUID, list[MessageRow]] = defaultdict(list)

    for key, mail in mails.items():
        statuses = snapshot.ingest_statuses.get(mail.sha256, ())
        if PUBLISHED not in statuses:
            violations.append(
                Violation(
                    "acknowledged",
                    str(mail),
                    f"accepted at the source but ingest's log says {list(statuses) or 'nothing'}",
                )
            )
        rows = found.get(key, [])
        if not rows:
            violations.append(Violation("missing", str(mail), "no inbound message"))
            continue
        if len(rows) > 1:
            violations.append(
                Violation(
                    "duplicate",
                    str(mail),
                    f"{len(rows)} messages: {sorted(str(r.id) for r in rows)}",
                )
            )
        answers = sum(requested[row.id] for row in rows)
        violations.extend(_answer_violations(mail, answers, snapshot, expect))
        for row in rows:
            times = matched[row.id]
            if times != 1:
                violations.append(
                    Violation("matched", str(mail), f"message {row.id} matched {times} times")
                )
            ticket = snapshot.tickets.get(row.ticket_id)
            if ticket is None:
                violations.append(
                    Violation("ticket", str(mail), f"ticket {row.ticket_id} does not exist")
                )
            elif ticket.merged_into_id is not None or ticket.deleted:
                violations.append(
                    Violation(
                        "ticket",
                        str(mail),
                        f"ticket {ticket.id} is not live (merged into "
                        f"{ticket.merged_into_id}, deleted {ticket.deleted})",
                    )
                )
            else:
                tickets[ticket.id].append(row)

    for ticket_id, rows in tickets.items():
        violations.extend(_ticket_violations(snapshot, snapshot.tickets[ticket_id], rows, expect))
    violations.extend(_dead_letter_violations(snapshot.dead_letters, expect.dead_letters))
    answered = sum(requested[row.id] for key in mails for row in found.get(key, []))
    return Report(len(mails), tuple(violations), answered)


def _answer_violations(
    mail: AcceptedMail, requested: int, snapshot: Snapshot, expect: Expectations
) -> list[Violation]:
    if requested > 1:
        return [Violation("answered", str(mail), f"answer requested {requested} times")]
    if snapshot.answers is None:
        return []
    copies = list(snapshot.answers.get(bare_message_id(mail.message_id), ()))
    distinct = sorted(set(copies))
    if requested == 0 and copies:
        return [Violation("answered", str(mail), f"answered unrequested: {distinct}")]
    if requested == 1 and len(distinct) != 1:
        return [Violation("answered", str(mail), f"{len(distinct)} answers at the sink {distinct}")]
    if len(copies) > len(distinct) and not expect.resent_copies:
        return [Violation("answered", str(mail), f"{len(copies)} copies of the answer {distinct}")]
    return []


def _ticket_violations(
    snapshot: Snapshot, ticket: TicketRow, rows: Sequence[MessageRow], expect: Expectations
) -> list[Violation]:
    subject = f"ticket {ticket.id}"
    found: list[Violation] = []
    assignments = [h for h in snapshot.history if h.ticket_id == ticket.id and h.kind == ASSIGNED]
    if len(assignments) != 1:
        rules = [h.rule for h in assignments]
        found.append(Violation("assigned", subject, f"assigned {len(assignments)} times {rules}"))
    if expect.assignee and (
        ticket.assignee_id is None or any(h.rule == UNASSIGNED_RULE for h in assignments)
    ):
        found.append(Violation("assigned", subject, "has no assignee"))

    notes = [n for n in snapshot.notifications if n.ticket_id == ticket.id]
    per_user: dict[tuple[uuid.UUID, str], list[NotificationRow]] = defaultdict(list)
    for note in notes:
        per_user[(note.user_id, note.kind)].append(note)
    for (user, kind), same in per_user.items():
        told = sum(n.event_count for n in same)
        if kind in (ASSIGNED, NEW_TICKET) and told != 1:
            found.append(Violation("notified", subject, f"user {user} told {told} times of {kind}"))
        if kind == CUSTOMER_REPLY and told > len(rows) - 1:
            found.append(
                Violation(
                    "notified",
                    subject,
                    f"user {user} told of {told} replies; the ticket has {len(rows) - 1}",
                )
            )
    if expect.assignment_notified and ticket.assignee_id is not None:
        assignee_told = per_user.get((ticket.assignee_id, ASSIGNED), [])
        if not assignee_told:
            found.append(
                Violation(
                    "notified", subject, f"assignee {ticket.assignee_id} never told of assignment"
                )
            )
    return found


def _dead_letter_violations(
    held: Mapping[str, int], poisoned: Mapping[str, int]
) -> list[Violation]:
    found: list[Violation] = []
    for queue in sorted(set(held) | set(poisoned)):
        have, want = held.get(queue, 0), poisoned.get(queue, 0)
        if have != want:
            found.append(
                Violation(
                    "dead-letter",
                    f"{queue}.dlq",
                    f"holds {have} messages; the scenario poisoned {want}",
                )
            )
    return found


async def snapshot(
    engine: AsyncEngine,
    amqp_url: str,
    accepted: Iterable[AcceptedMail],
    sent_mail: Path | None = None,
) -> Snapshot:
    """Read what the invariant needs about the `accepted` mails and their tenants from the
    database, the broker and (if given) the SMTP sink's directory of kept mail."""
    mails = list(accepted)
    tenants = sorted({mail.tenant_id for mail in mails})
    async with engine.connect() as conn:
        logs = await conn.execute(
            select(col(EmailProcessingLog.sha256), col(EmailProcessingLog.status)).where(
                col(EmailProcessingLog.stage) == INGEST_STAGE,
                col(EmailProcessingLog.sha256).in_(sorted({mail.sha256 for mail in mails})),
            )
        )
        ingest: dict[str, list[str]] = defaultdict(list)
        for sha256, status in logs:
            ingest[sha256].append(status)
        messages = [
            MessageRow(row.id, row.tenant_id, row.message_id_header, row.ticket_id)
            for row in await conn.execute(
                select(
                    col(Message.id),
                    col(Message.tenant_id),
                    col(Message.message_id_header),
                    col(Message.ticket_id),
                ).where(col(Message.tenant_id).in_(tenants), col(Message.direction) == "inbound")
            )
        ]
        tickets = {
            row.id: TicketRow(
                row.id, row.assignee_id, row.merged_into_id, row.deleted_at is not None
            )
            for row in await conn.execute(
                select(
                    col(Ticket.id),
                    col(Ticket.assignee_id),
                    col(Ticket.merged_into_id),
                    col(Ticket.deleted_at),
                ).where(col(Ticket.tenant_id).in_(tenants))
            )
        }
        history = [
            HistoryRow(row.ticket_id, row.kind, row.rule, row.message_id)
            for row in await conn.execute(
                select(
                    col(TicketHistory.ticket_id),
                    col(TicketHistory.kind),
                    col(TicketHistory.rule),
                    col(TicketHistory.message_id),
                ).where(
                    col(TicketHistory.tenant_id).in_(tenants),
                    col(TicketHistory.kind).in_([MATCHED, ASSIGNED, AUTO_REPLY]),
                )
            )
        ]
        notifications = [
            NotificationRow(row.ticket_id, row.user_id, row.kind, row.event_count)
            for row in await conn.execute(
                select(
                    col(Notification.ticket_id),
                    col(Notification.user_id),
                    col(Notification.kind),
                    col(Notification.event_count),
                ).where(col(Notification.tenant_id).in_(tenants))
            )
        ]
    return Snapshot(
        ingest,
        messages,
        tickets,
        history,
        notifications,
        await dead_letters(amqp_url),
        None if sent_mail is None else await asyncio.to_thread(sink_answers, sent_mail),
    )


def sink_answers(sent_mail: Path) -> dict[str, list[str]]:
    """The mails the sink kept, by the (bare) Message-ID each is in reply to."""
    answers: dict[str, list[str]] = defaultdict(list)
    if not sent_mail.exists():
        return answers
    parser = BytesHeaderParser(policy=policy.default)
    for path in sorted(sent_mail.glob("*.eml")):
        with path.open("rb") as handle:
            headers = parser.parse(handle)
        if in_reply_to := headers.get("In-Reply-To"):
            answers[bare_message_id(str(in_reply_to))].append(str(headers.get("Message-ID", "")))
    return answers


async def dead_letters(amqp_url: str) -> dict[str, int]:
    """Messages waiting in each consumer queue's `.dlq`, by consumer queue name (none: absent)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        counts = {spec.name: await dead_letter_count(channel, spec) for spec in SUBSCRIPTIONS}
    return {queue: count for queue, count in counts.items() if count}


async def check(
    engine: AsyncEngine,
    amqp_url: str,
    accepted: Sequence[AcceptedMail],
    expect: Expectations | None = None,
    sent_mail: Path | None = None,
) -> Report:
    """Read a snapshot and judge it."""
    return judge(accepted, await snapshot(engine, amqp_url, accepted, sent_mail), expect)
