"""The notifier's pure rules."""

from __future__ import annotations

import uuid

from postdesk_contracts import TicketAssigned, TicketCreated, TicketMessageAdded
from postdesk_notifier.domain import (
    MAX_TITLE_CHARS,
    NotificationDraft,
    Skipped,
    TicketInfo,
    UserInfo,
    assignment_title,
    plan_assignment_notification,
    skip_backfill,
    skip_self_assignment,
)

TENANT = uuid.uuid4()
TICKET = TicketInfo(uuid.uuid4(), TENANT, 42, "Printer on fire")


def user(*, tenant: uuid.UUID = TENANT, active: bool = True) -> UserInfo:
    return UserInfo(uuid.uuid4(), tenant, active)


def test_title_names_number_and_subject() -> None:
    """The title reads "Ticket #<n> assigned to you: <subject>"."""
    assert assignment_title(42, "Printer on fire") == "Ticket #42 assigned to you: Printer on fire"
    assert assignment_title(1, " ") == "Ticket #1 assigned to you: (no subject)"


def test_long_subject_is_cut() -> None:
    """A huge subject gives a title of bounded length ending in an ellipsis."""
    title = assignment_title(1, "x" * 1_000)
    assert len(title) == MAX_TITLE_CHARS
    assert title.endswith("...")


def test_active_assignee_of_the_tenant_is_notified() -> None:
    """An active user of the ticket's tenant gets a ticket.assigned notification."""
    assignee = user()
    plan = plan_assignment_notification(TENANT, TICKET, assignee)
    assert plan == NotificationDraft(
        TENANT,
        assignee.id,
        "ticket.assigned",
        TICKET.id,
        "Ticket #42 assigned to you: Printer on fire",
    )


def test_missing_event_tenant_uses_ticket_tenant() -> None:
    """An event without tenant still notifies within the ticket's tenant."""
    assert isinstance(plan_assignment_notification(None, TICKET, user()), NotificationDraft)


def test_cross_tenant_or_inactive_is_skipped() -> None:
    """Other tenants' users, unknown users, inactive users and mismatched events are never notified."""
    assert isinstance(
        plan_assignment_notification(TENANT, TICKET, user(tenant=uuid.uuid4())), Skipped
    )
    assert isinstance(plan_assignment_notification(TENANT, TICKET, None), Skipped)
    assert isinstance(plan_assignment_notification(TENANT, TICKET, user(active=False)), Skipped)
    assert isinstance(plan_assignment_notification(uuid.uuid4(), TICKET, user()), Skipped)


def test_imported_mail_is_never_notified() -> None:
    """Assignments, new tickets and new messages of backfilled mail are skipped; live ones are not."""
    ticket_id, account_id = uuid.uuid4(), uuid.uuid4()
    common = {"ticket_id": ticket_id, "account_id": account_id}
    payloads: list[TicketAssigned | TicketCreated | TicketMessageAdded] = [
        TicketAssigned.model_validate(common | {"assignee_id": uuid.uuid4(), "rule": "primary"}),
        TicketCreated.model_validate(
            common
            | {
                "number": 1,
                "subject": "Hi",
                "customer_email": "c@x.example",
                "first_message_id": uuid.uuid4(),
            }
        ),
        TicketMessageAdded.model_validate(
            common
            | {
                "message_id": uuid.uuid4(),
                "direction": "inbound",
                "match_rule": "in-reply-to",
                "sender_email": "c@x.example",
            }
        ),
    ]
    for payload in payloads:
        assert skip_backfill(payload) is None
        skipped = skip_backfill(payload.model_copy(update={"imported": True}))
        assert skipped == Skipped("imported from a mailbox backfill")


def test_an_assignment_someone_made_to_themselves_notifies_nobody() -> None:
    """Composing a new mail assigns its ticket to the author: no "assigned to you" for that;
    a rule's assignment or someone else's still notifies."""
    agent, other = uuid.uuid4(), uuid.uuid4()
    common = {"ticket_id": uuid.uuid4(), "account_id": uuid.uuid4(), "assignee_id": agent}
    own = TicketAssigned(**common, rule="composed", assigned_by=agent)
    assert skip_self_assignment(own) == Skipped("the assignee made the assignment")
    assert skip_self_assignment(TicketAssigned(**common, rule="primary")) is None
    assert skip_self_assignment(TicketAssigned(**common, rule="agent", assigned_by=other)) is None
