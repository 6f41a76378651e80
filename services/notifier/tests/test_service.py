"""Each trigger against the real PostgreSQL: who is notified, with what, once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from postdesk_notifier.recipients_db import TicketNotFoundError
from postdesk_notifier.service import NotifyStatus, created_event_id
from postdesk_runtime import Sessions
from postdesk_schema import OutboxEvent, ProcessedEvent

from .factories import (
    AT_WORK_TIME,
    NEVER_NOW,
    WINDOW,
    Desk,
    consume_in_transaction,
    make_assigned,
    notifications_of,
    seed_ticket,
)

pytestmark = pytest.mark.integration


async def outbox_row(sessions: Sessions, event_id: uuid.UUID) -> OutboxEvent | None:
    async with sessions() as session:
        return await session.get(OutboxEvent, event_id)


class TestNewMail:
    async def test_reply_notifies_the_assignee_with_its_event(self, sessions: Sessions) -> None:
        """A customer's reply notifies the assignee (customer_reply) and commits
        notification.created with it; the account's other handlers hear nothing."""
        desk = await Desk.create(sessions)
        ana = await desk.handler("Ana Lopez")
        other = await desk.handler("Bo Primary")
        ticket = await desk.ticket(ana, subject="Kettle never arrived")
        event = desk.message_added(ticket)

        outcome = await consume_in_transaction(sessions, event)

        assert outcome.status is NotifyStatus.NOTIFIED
        [note] = await notifications_of(sessions, ana, other)
        assert (note.user_id, note.kind, note.ticket_id, note.source_event_id) == (
            ana.id,
            "customer_reply",
            ticket.id,
            event.id,
        )
        assert note.title == "New reply on #1 from carol@customer.example: Kettle never arrived"
        assert (note.group_key, note.event_count, note.email_status) == (
            f"customer_reply:{ticket.id}",
            1,
            "none",
        )
        assert note.read_at is None
        row = await outbox_row(sessions, created_event_id(event.id, ana.id, "customer_reply"))
        assert row is not None
        assert (row.service, row.routing_key) == ("notifier", "notification.created")
        body = json.loads(row.body)
        assert body["payload"]["notification_id"] == str(note.id)
        assert (body["tenant_id"], body["causation_id"]) == (str(desk.tenant.id), str(event.id))

    async def test_new_ticket_without_assignee_notifies_the_primaries(
        self, sessions: Sessions
    ) -> None:
        """The first message of an unassigned ticket reaches every primary that may receive
        (new_ticket); backups, viewers, receiving-off and inactive assignments do not."""
        desk = await Desk.create(sessions)
        first = await desk.handler("Ana Lopez")
        second = await desk.handler("Bo Primary")
        backup = await desk.handler("Cy Backup", "backup")
        viewer = await desk.handler("Di Viewer", "viewer")
        deaf = await desk.handler("Ed Deaf", can_receive=False)
        retired = await desk.handler("Fay Retired", is_active=False)
        ticket = await desk.ticket()

        await consume_in_transaction(sessions, desk.message_added(ticket, opened_ticket=True))

        found = await notifications_of(sessions, first, second, backup, viewer, deaf, retired)
        assert sorted((n.user_id, n.kind) for n in found) == sorted(
            [(first.id, "new_ticket"), (second.id, "new_ticket")]
        )
        assert found[0].title.startswith("New ticket #1 from carol@customer.example")

    async def test_assignee_outside_hours_gives_way_to_available_backups(
        self, sessions: Sessions
    ) -> None:
        """An assignee outside their working hours is replaced by the backups at work."""
        desk = await Desk.create(sessions)
        away = await desk.user("Ana Away", working_hours=NEVER_NOW, timezone="Europe/Madrid")
        await desk.assign(away)
        at_work = await desk.handler("Bo Backup", "backup", priority=2)
        off = await desk.user("Cy Off", working_hours=NEVER_NOW)
        await desk.assign(off, "backup", priority=1)
        ticket = await desk.ticket(away)

        await consume_in_transaction(sessions, desk.message_added(ticket, at=AT_WORK_TIME))

        assert [n.user_id for n in await notifications_of(sessions, away, at_work, off)] == [
            at_work.id
        ]

    async def test_inactive_primary_and_no_backup_at_work_reach_every_backup(
        self, sessions: Sessions
    ) -> None:
        """With the primary inactive and no backup at work, every active backup is told."""
        desk = await Desk.create(sessions)
        gone = await desk.handler("Ana Gone")
        first = await desk.user("Bo Night", working_hours=NEVER_NOW)
        second = await desk.user("Cy Night", working_hours=NEVER_NOW)
        await desk.assign(first, "backup")
        await desk.assign(second, "backup")
        async with sessions() as session, session.begin():
            stored = await session.get(type(gone), gone.id)
            assert stored is not None
            stored.is_active = False
        ticket = await desk.ticket()

        await consume_in_transaction(sessions, desk.message_added(ticket))

        found = await notifications_of(sessions, gone, first, second)
        assert sorted(n.user_id for n in found) == sorted([first.id, second.id])

    async def test_assignment_switches_decide(self, sessions: Sessions) -> None:
        """notify_on_receive off silences new tickets, notify_on_reply off silences replies."""
        desk = await Desk.create(sessions)
        no_new = await desk.handler("Ana", notify_on_receive=False)
        no_reply = await desk.handler("Bo", notify_on_reply=False)
        ticket = await desk.ticket()

        await consume_in_transaction(sessions, desk.message_added(ticket, opened_ticket=True))
        await consume_in_transaction(sessions, desk.message_added(ticket))

        found = await notifications_of(sessions, no_new, no_reply)
        assert sorted((n.user_id, n.kind) for n in found) == sorted(
            [(no_new.id, "customer_reply"), (no_reply.id, "new_ticket")]
        )

    async def test_staff_sender_is_not_told_of_their_own_mail(self, sessions: Sessions) -> None:
        """Mail from a user's login or company address does not notify that user."""
        desk = await Desk.create(sessions)
        ana = await desk.handler("Ana Lopez")
        async with sessions() as session, session.begin():
            stored = await session.get(type(ana), ana.id)
            assert stored is not None
            stored.company_email = "ana@company.example"
        bo = await desk.handler("Bo Primary")
        ticket = await desk.ticket()

        await consume_in_transaction(
            sessions, desk.message_added(ticket, sender_email="ANA@company.example")
        )
        await consume_in_transaction(sessions, desk.message_added(ticket, sender_email=bo.email))

        found = await notifications_of(sessions, ana, bo)
        assert [(n.user_id, n.event_count) for n in found] == [(bo.id, 1), (ana.id, 1)]

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"imported": True}, "imported from a mailbox backfill"),
            ({"direction": "outbound"}, "outbound mail"),
            ({"mail_kind": "auto_reply"}, "auto_reply mail"),
        ],
    )
    async def test_mail_no_customer_wrote_live_notifies_nobody(
        self, sessions: Sessions, overrides: dict[str, Any], reason: str
    ) -> None:
        """Backfilled mail, our own mail and automatic mail are consumed silently."""
        desk = await Desk.create(sessions)
        ana = await desk.handler("Ana")
        ticket = await desk.ticket(ana)

        outcome = await consume_in_transaction(sessions, desk.message_added(ticket, **overrides))

        assert (outcome.status, outcome.reason) == (NotifyStatus.SKIPPED, reason)
        assert await notifications_of(sessions, ana) == []


class TestPreferences:
    async def test_channels_follow_each_users_preferences(self, sessions: Sessions) -> None:
        """In-app only: unread, no email. Email too: pending, due after the window. Email
        only: kept as the email's record, already read. Neither: no row at all."""
        desk = await Desk.create(sessions)
        plain = await desk.handler("Plain")
        both = await desk.user("Both", notification_preferences={"customer_reply": {"email": True}})
        mail_only = await desk.user(
            "Mail", notification_preferences={"customer_reply": {"in_app": False, "email": True}}
        )
        silent = await desk.user(
            "Silent", notification_preferences={"customer_reply": {"in_app": False}}
        )
        for user in (both, mail_only, silent):
            await desk.assign(user)
        ticket = await desk.ticket()
        event = desk.message_added(ticket)

        await consume_in_transaction(sessions, event, now=AT_WORK_TIME)

        found = {
            n.user_id: n for n in await notifications_of(sessions, plain, both, mail_only, silent)
        }
        assert set(found) == {plain.id, both.id, mail_only.id}
        assert (found[plain.id].email_status, found[plain.id].email_due_at) == ("none", None)
        assert found[both.id].email_status == "pending"
        assert found[both.id].email_due_at == AT_WORK_TIME + WINDOW
        assert found[both.id].read_at is None
        assert found[mail_only.id].email_status == "pending"
        assert found[mail_only.id].read_at == AT_WORK_TIME
        assert found[mail_only.id].data["in_app"] is False


class TestMentions:
    async def test_mentioned_users_who_can_see_the_ticket_are_told(
        self, sessions: Sessions
    ) -> None:
        """An agent of the account and an admin without assignment are told, with the author
        as actor and the excerpt as body; the author mentioning themselves is not."""
        desk = await Desk.create(sessions)
        author = await desk.handler("Ana Lopez")
        agent = await desk.handler("Bo Agent")
        admin = await desk.user("Cy Admin", role="admin")
        ticket = await desk.ticket(agent, subject="Refund")
        event = desk.note_added(
            ticket, author, agent.id, admin.id, author.id, excerpt="@bo can you check?"
        )

        await consume_in_transaction(sessions, event)

        found = await notifications_of(sessions, author, agent, admin)
        assert sorted(n.user_id for n in found) == sorted([agent.id, admin.id])
        for note in found:
            assert (note.kind, note.actor_id, note.body) == (
                "mention",
                author.id,
                "@bo can you check?",
            )
            assert note.title == "Ana Lopez mentioned you on #1: Refund"

    async def test_mention_of_someone_who_cannot_see_the_ticket_is_refused(
        self, sessions: Sessions
    ) -> None:
        """Users of another account only, of another tenant, with mentions off, or with an
        inactive assignment get nothing."""
        desk = await Desk.create(sessions)
        author = await desk.handler("Ana")
        elsewhere = await desk.user("Bo Elsewhere")
        await desk.assign(elsewhere, account=await desk.account2())
        muted = await desk.handler("Cy Muted", notify_on_mention=False)
        lapsed = await desk.handler("Di Lapsed", is_active=False)
        stranger_desk = await Desk.create(sessions)
        stranger = await stranger_desk.user("Ed Stranger", role="admin")
        ticket = await desk.ticket(author)
        event = desk.note_added(ticket, author, elsewhere.id, muted.id, lapsed.id, stranger.id)

        outcome = await consume_in_transaction(sessions, event)

        assert outcome.status is NotifyStatus.SKIPPED
        assert await notifications_of(sessions, elsewhere, muted, lapsed, stranger) == []


class TestAssignment:
    async def test_assignee_is_told_who_assigned_it(self, sessions: Sessions) -> None:
        """An agent's assignment names the agent; a rule's names the rule."""
        desk = await Desk.create(sessions)
        boss = await desk.handler("Ana Lopez")
        agent = await desk.handler("Bo Agent")
        by_person = await desk.ticket(boss, subject="Refund")
        by_rule = await desk.ticket(agent, subject="Broken lid")

        await consume_in_transaction(sessions, desk.assigned(by_person, agent, assigned_by=boss.id))
        await consume_in_transaction(sessions, desk.assigned(by_rule, agent, rule="primary"))

        found = await notifications_of(sessions, agent)
        assert [(n.kind, n.title, n.actor_id) for n in found] == [
            ("assigned", "Ticket #1 assigned to you by Ana Lopez: Refund", boss.id),
            ("assigned", "Ticket #2 assigned to you by rule primary: Broken lid", None),
        ]
        assert [n.email_status for n in found] == ["pending", "pending"]  # email by default

    async def test_assignee_gets_one_notification_and_event(self, sessions: Sessions) -> None:
        """ticket.assigned records the notification and commits notification.created with it."""
        seed = await seed_ticket(sessions)
        event = make_assigned(seed)

        outcome = await consume_in_transaction(sessions, event)

        assert outcome.status is NotifyStatus.NOTIFIED
        [notification] = await notifications_of(sessions, seed.user)
        assert (notification.kind, notification.title) == (
            "assigned",
            "Ticket #7 assigned to you by rule primary: Printer on fire",
        )
        row = await outbox_row(sessions, created_event_id(event.id, seed.user.id, "assigned"))
        assert row is not None
        assert json.loads(row.body)["payload"]["notification_id"] == str(notification.id)

    async def test_inactive_self_or_imported_assignment_is_not_notified(
        self, sessions: Sessions
    ) -> None:
        """A deactivated assignee, one who assigned themselves and backfilled mail get nothing,
        and each event is still consumed."""
        inactive = await seed_ticket(sessions, user_active=False)
        seed = await seed_ticket(sessions)
        events = [
            (inactive, make_assigned(inactive), "assignee is not active"),
            (
                seed,
                make_assigned(seed, assigned_by=seed.user.id),
                "the assignee made the assignment",
            ),
            (seed, make_assigned(seed, imported=True), "imported from a mailbox backfill"),
        ]
        for owner, event, reason in events:
            outcome = await consume_in_transaction(sessions, event)
            assert (outcome.status, outcome.reason) == (NotifyStatus.SKIPPED, reason)
            again = await consume_in_transaction(sessions, event)
            assert again.status is NotifyStatus.ALREADY_PROCESSED
            assert await notifications_of(sessions, owner.user) == []

    async def test_unknown_ticket_fails_and_rolls_back(self, sessions: Sessions) -> None:
        """A ticket that does not exist raises and the claim rolls back, so it is retried."""
        seed = await seed_ticket(sessions)
        event = make_assigned(seed, ticket_id=uuid.uuid4())
        for _ in range(2):
            with pytest.raises(TicketNotFoundError):
                await consume_in_transaction(sessions, event)
        async with sessions() as session:
            assert await session.get(ProcessedEvent, ("notifier", event.id)) is None

    async def test_event_of_another_tenant_notifies_nobody(self, sessions: Sessions) -> None:
        """ticket.assigned whose tenant is not the ticket's is refused."""
        seed = await seed_ticket(sessions)
        event = make_assigned(seed).model_copy(update={"tenant_id": uuid.uuid4()})
        outcome = await consume_in_transaction(sessions, event)
        assert (outcome.status, outcome.reason) == (
            NotifyStatus.SKIPPED,
            "event tenant does not own the ticket",
        )


class TestSla:
    async def test_warning_reaches_assignee_managers_and_primaries_once(
        self, sessions: Sessions
    ) -> None:
        """sla.warning: the assignee, the department's managers and the account's primaries,
        each once, with the target and the due time in their own timezone."""
        desk = await Desk.create(sessions)
        assignee = await desk.handler("Ana Assignee", "backup")
        manager = await desk.user("Bo Manager", timezone="Europe/Madrid")
        primary = await desk.handler("Cy Primary")
        manager_and_primary = await desk.handler("Di Both")
        bystander = await desk.handler("Ed Backup", "backup")
        department = await desk.department(manager, manager_and_primary)
        ticket = await desk.ticket(assignee, subject="Refund", department=department)

        await consume_in_transaction(sessions, desk.sla(ticket))

        found = {
            n.user_id: n
            for n in await notifications_of(
                sessions, assignee, manager, primary, manager_and_primary, bystander
            )
        }
        assert set(found) == {assignee.id, manager.id, primary.id, manager_and_primary.id}
        assert {n.kind for n in found.values()} == {"sla_warning"}
        assert found[assignee.id].title == (
            "SLA warning on #1: first response due 2026-11-25 12:00 UTC: Refund"
        )
        assert found[manager.id].title == (
            "SLA warning on #1: first response due 2026-11-25 13:00 CET: Refund"
        )

    async def test_breach_is_its_own_kind_and_mailed_by_default(self, sessions: Sessions) -> None:
        """sla.breached notifies as sla_breached, whose email is on by default."""
        desk = await Desk.create(sessions)
        assignee = await desk.handler("Ana")
        ticket = await desk.ticket(assignee)

        await consume_in_transaction(sessions, desk.sla(ticket, breached=True))

        [note] = await notifications_of(sessions, assignee)
        assert (note.kind, note.email_status) == ("sla_breached", "pending")
        assert note.title.startswith("SLA breached on #1: first response was due")


async def test_redelivered_event_notifies_once(sessions: Sessions) -> None:
    """The same event twice leaves one notification, counted once, and no second event."""
    desk = await Desk.create(sessions)
    ana = await desk.handler("Ana")
    ticket = await desk.ticket(ana)
    event = desk.message_added(ticket)

    first = await consume_in_transaction(sessions, event)
    again = await consume_in_transaction(sessions, event)

    assert (first.status, again.status) == (NotifyStatus.NOTIFIED, NotifyStatus.ALREADY_PROCESSED)
    [note] = await notifications_of(sessions, ana)
    assert note.event_count == 1
