"""The notifier's pure rules: skips, channels, titles, recipients and the email text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from postdesk_contracts import SlaTarget, TicketAssigned, TicketCreated, TicketMessageAdded
from postdesk_contracts.notify_prefs import NotificationKind
from postdesk_notifier import titles
from postdesk_notifier.domain import (
    MAX_TITLE_CHARS,
    Channels,
    Handler,
    Person,
    Skipped,
    TicketInfo,
    channels_for,
    clip,
    draft_for,
    skip_backfill,
    skip_foreign_tenant,
    skip_not_customer_mail,
    skip_self_assignment,
)
from postdesk_notifier.email_text import (
    EmailFacts,
    notification_outbound_id,
    notification_request,
)
from postdesk_notifier.recipients import (
    is_available,
    mail_recipients,
    mention_recipients,
    sla_recipients,
)

TENANT = uuid.uuid4()
TICKET = TicketInfo(uuid.uuid4(), TENANT, 42, "Printer on fire", uuid.uuid4())
WEDNESDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OFFICE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
NIGHT_SHIFT = {"wed": [["22:00", "06:00"]]}


def person(name: str = "Ana", **fields: Any) -> Person:
    return Person(uuid.uuid4(), TENANT, name, **fields)


def handler(who: Person, role: str = "primary", **fields: Any) -> Handler:
    return Handler(who, role, **fields)


def message(**overrides: object) -> TicketMessageAdded:
    return TicketMessageAdded.model_validate(
        {
            "ticket_id": TICKET.id,
            "message_id": uuid.uuid4(),
            "account_id": TICKET.account_id,
            "direction": "inbound",
            "match_rule": "in-reply-to",
            "sender_email": "c@x.example",
            **overrides,
        }
    )


class TestSkips:
    def test_imported_mail_is_never_notified(self) -> None:
        """Assignments, new tickets and messages of backfilled mail are skipped; live ones not."""
        common = {"ticket_id": TICKET.id, "account_id": TICKET.account_id}
        payloads: list[TicketAssigned | TicketCreated | TicketMessageAdded] = [
            TicketAssigned.model_validate(common | {"assignee_id": uuid.uuid4(), "rule": "x"}),
            TicketCreated.model_validate(
                common
                | {
                    "number": 1,
                    "subject": "Hi",
                    "customer_email": "c@x.example",
                    "first_message_id": uuid.uuid4(),
                }
            ),
            message(),
        ]
        for payload in payloads:
            assert skip_backfill(payload) is None
            skipped = skip_backfill(payload.model_copy(update={"imported": True}))
            assert skipped == Skipped("imported from a mailbox backfill")

    def test_only_inbound_human_mail_notifies(self) -> None:
        """Our own mail and mail no person wrote (auto-replies, bounces, ...) notify nobody."""
        assert skip_not_customer_mail(message()) is None
        assert skip_not_customer_mail(message(direction="outbound")) == Skipped("outbound mail")
        for kind in ("auto_reply", "bounce", "list", "spam"):
            assert skip_not_customer_mail(message(mail_kind=kind)) == Skipped(f"{kind} mail")

    def test_self_assignment_notifies_nobody(self) -> None:
        """Someone who assigned a ticket to themselves is not told; a rule's or another's
        assignment is."""
        agent, other = uuid.uuid4(), uuid.uuid4()
        common = {"ticket_id": uuid.uuid4(), "account_id": uuid.uuid4(), "assignee_id": agent}
        own = TicketAssigned(**common, rule="composed", assigned_by=agent)
        assert skip_self_assignment(own) == Skipped("the assignee made the assignment")
        assert skip_self_assignment(TicketAssigned(**common, rule="primary")) is None
        assert (
            skip_self_assignment(TicketAssigned(**common, rule="agent", assigned_by=other)) is None
        )

    def test_event_of_another_tenant_is_refused(self) -> None:
        """An event whose tenant is not the ticket's notifies nobody; one without a tenant does."""
        assert skip_foreign_tenant(TENANT, TICKET) is None
        assert skip_foreign_tenant(None, TICKET) is None
        assert skip_foreign_tenant(uuid.uuid4(), TICKET) == Skipped(
            "event tenant does not own the ticket"
        )


class TestChannels:
    def test_defaults_and_stored_preferences(self) -> None:
        """Defaults apply per kind; a stored choice wins; wanting neither gives no draft."""
        assert channels_for(person(), NotificationKind.CUSTOMER_REPLY) == Channels(True, False)
        assert channels_for(person(), NotificationKind.MENTION) == Channels(True, True)
        quiet = person(preferences={"mention": {"in_app": False, "email": False}})
        assert channels_for(quiet, NotificationKind.MENTION) is None
        assert draft_for(quiet, TICKET, NotificationKind.MENTION, lambda _: "t") is None
        mail_only = person(preferences={"customer_reply": {"in_app": False, "email": True}})
        draft = draft_for(mail_only, TICKET, NotificationKind.CUSTOMER_REPLY, lambda _: "t")
        assert draft is not None
        assert draft.channels == Channels(in_app=False, email=True)
        assert draft.group_key == f"customer_reply:{TICKET.id}"
        assert draft.data["ticket_number"] == 42


class TestTitles:
    def test_wording_per_kind(self) -> None:
        """Each kind says what happened, on which ticket, with the subject."""
        assert titles.new_ticket(TICKET, "c@x.example", 1) == (
            "New ticket #42 from c@x.example: Printer on fire"
        )
        assert titles.customer_reply(TICKET, "c@x.example", 1) == (
            "New reply on #42 from c@x.example: Printer on fire"
        )
        assert titles.customer_reply(TICKET, "c@x.example", 50) == (
            "50 new replies on #42: Printer on fire"
        )
        assert titles.mention(TICKET, "Ana", 1) == "Ana mentioned you on #42: Printer on fire"
        assert titles.assigned(TICKET, "Ana Lopez", "agent") == (
            "Ticket #42 assigned to you by Ana Lopez: Printer on fire"
        )
        assert titles.assigned(TICKET, None, "primary") == (
            "Ticket #42 assigned to you by rule primary: Printer on fire"
        )

    def test_sla_titles_name_target_and_local_due_time(self) -> None:
        """SLA titles name the target and the due time in the recipient's timezone."""
        due = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
        assert titles.sla(
            TICKET, SlaTarget.FIRST_RESPONSE, due, "Europe/Madrid", breached=False
        ) == ("SLA warning on #42: first response due 2026-11-25 15:30 CET: Printer on fire")
        assert titles.sla(TICKET, SlaTarget.RESOLUTION, due, "Nowhere/Else", breached=True) == (
            "SLA breached on #42: resolution was due 2026-11-25 14:30 UTC: Printer on fire"
        )

    def test_titles_are_one_clipped_line(self) -> None:
        """Control characters (header injection) become spaces; long titles are cut."""
        assert clip("a\r\nBcc: x@y\x00z") == "a Bcc: x@y z"
        long = titles.customer_reply(
            TicketInfo(TICKET.id, TENANT, 1, "x" * 1_000, TICKET.id), "c", 1
        )
        assert len(long) == MAX_TITLE_CHARS
        assert long.endswith("...")
        assert titles.new_ticket(TicketInfo(TICKET.id, TENANT, 1, " ", TICKET.id), "c", 1) == (
            "New ticket #1 from c: (no subject)"
        )


class TestAvailability:
    def test_working_hours_and_activity(self) -> None:
        """Inside hours and active is available; outside hours, inactive or a night shift
        seen at noon is not; unusable hours count as always open."""
        assert is_available(person(working_hours=OFFICE, timezone="Europe/Madrid"), WEDNESDAY_NOON)
        assert not is_available(person(working_hours=NIGHT_SHIFT), WEDNESDAY_NOON)
        assert not is_available(person(is_active=False), WEDNESDAY_NOON)
        assert is_available(person(working_hours={"someday": 1}), WEDNESDAY_NOON)
        assert is_available(person(), WEDNESDAY_NOON)


class TestMailRecipients:
    def pick(self, **kwargs: Any) -> list[str]:
        arguments: dict[str, Any] = {
            "assignee": None,
            "handlers": [],
            "at": WEDNESDAY_NOON,
            "opened_ticket": False,
            "sender_ids": frozenset(),
        } | kwargs
        return [p.full_name for p in mail_recipients(**arguments)]

    def test_assignee_else_primaries(self) -> None:
        """The assignee hears of it; without one, every usable primary that may receive."""
        ana, bo, cy, di = person("Ana"), person("Bo"), person("Cy"), person("Di")
        handlers = [
            handler(ana),
            handler(bo),
            handler(cy, can_receive=False),
            handler(di, is_active=False),
            handler(person("Ed", is_active=False)),
            handler(person("Viewer"), "viewer"),
        ]
        assert self.pick(assignee=cy, handlers=handlers) == ["Cy"]
        assert self.pick(handlers=handlers) == ["Ana", "Bo"]

    def test_unavailable_recipient_gives_way_to_available_backups(self) -> None:
        """Outside hours or inactive: the available backups by priority step in; with none
        available, every usable backup; with no backup at all, the active recipient stays."""
        away = person("Away", working_hours=NIGHT_SHIFT)
        late, early = person("Late"), person("Early")
        off_backup = person("Off", working_hours=NIGHT_SHIFT)
        handlers = [
            handler(away),
            handler(late, "backup", priority=5),
            handler(early, "backup", priority=1),
            handler(off_backup, "backup", priority=0),
        ]
        assert self.pick(assignee=away, handlers=handlers) == ["Early", "Late"]
        assert self.pick(handlers=handlers) == ["Early", "Late"]
        only_off = [handler(away), handler(off_backup, "backup")]
        assert self.pick(handlers=only_off) == ["Off"]
        assert self.pick(handlers=[handler(away)]) == ["Away"]
        gone = person("Gone", is_active=False)
        assert self.pick(assignee=gone, handlers=[handler(gone), handler(late, "backup")]) == [
            "Late"
        ]

    def test_one_available_primary_covers_the_mail(self) -> None:
        """Backups are not asked while a chosen recipient is available."""
        handlers = [
            handler(person("At work")),
            handler(person("Away", working_hours=NIGHT_SHIFT)),
            handler(person("Backup"), "backup"),
        ]
        assert self.pick(handlers=handlers) == ["At work"]

    def test_per_assignment_switches(self) -> None:
        """notify_on_receive decides for a new ticket, notify_on_reply for a reply; an admin
        assignee without an assignment is told."""
        ana = person("Ana")
        handlers = [handler(ana, notify_on_receive=False, notify_on_reply=True)]
        assert self.pick(handlers=handlers, opened_ticket=True) == []
        assert self.pick(handlers=handlers, opened_ticket=False) == ["Ana"]
        quiet = [handler(ana, notify_on_reply=False)]
        assert self.pick(handlers=quiet) == []
        admin = person("Admin", is_admin=True)
        assert self.pick(assignee=admin, handlers=quiet) == ["Admin"]

    def test_a_new_tickets_assignee_hears_of_it_by_the_assignment_only(self) -> None:
        """ticket.assigned tells the assignee of a new ticket; new mail is not told twice.
        An away assignee's backups still hear of the new ticket; replies reach the assignee."""
        ana, bo = person("Ana"), person("Bo")
        handlers = [handler(ana), handler(bo, "backup")]
        assert self.pick(assignee=ana, handlers=handlers, opened_ticket=True) == []
        assert self.pick(assignee=ana, handlers=handlers, opened_ticket=False) == ["Ana"]
        away = person("Away", working_hours=NIGHT_SHIFT)
        with_away = [handler(away), handler(bo, "backup")]
        assert self.pick(assignee=away, handlers=with_away, opened_ticket=True) == ["Bo"]
        assert self.pick(handlers=[handler(ana)], opened_ticket=True) == ["Ana"]

    def test_the_sender_is_never_told(self) -> None:
        """Staff writing to their own mailbox do not hear of their own mail."""
        ana, bo = person("Ana"), person("Bo")
        handlers = [handler(ana), handler(bo)]
        assert self.pick(handlers=handlers, sender_ids=frozenset({ana.id})) == ["Bo"]


class TestMentionAndSlaRecipients:
    def test_mention_needs_sight_of_the_ticket_and_the_switch(self) -> None:
        """Admins and usable handlers are told; others, the author, inactive users, users of
        no assignment and those with notify_on_mention off are not."""
        author, admin, agent, outsider = (
            person("Au"),
            person("Ad", is_admin=True),
            person("Ag"),
            person("Out"),
        )
        muted, inactive_assignment = person("Mu"), person("In")
        gone = person("Gone", is_active=False, is_admin=True)
        handlers = [
            handler(author),
            handler(agent),
            handler(muted, notify_on_mention=False),
            handler(inactive_assignment, is_active=False),
        ]
        everyone = [author, admin, agent, outsider, muted, inactive_assignment, gone]
        chosen = mention_recipients(
            mentioned=[p.id for p in everyone] + [agent.id, uuid.uuid4()],
            author_id=author.id,
            people={p.id: p for p in everyone},
            handlers=handlers,
        )
        assert [p.full_name for p in chosen] == ["Ad", "Ag"]

    def test_sla_reaches_assignee_managers_and_primaries_once(self) -> None:
        """Each person once, inactive people never."""
        assignee, manager, primary = person("As"), person("Ma"), person("Pr")
        chosen = sla_recipients(
            assignee=assignee,
            managers=[manager, assignee, person("Old", is_active=False)],
            handlers=[handler(primary), handler(manager), handler(person("Bk"), "backup")],
        )
        assert [p.full_name for p in chosen] == ["As", "Ma", "Pr"]


class TestEmailText:
    def test_request_is_automatic_mail_outside_the_ticket(self) -> None:
        """kind notification, auto-generated, no ticket, a stable outbound id, link and count."""
        facts = EmailFacts(
            notification_id=uuid.uuid4(),
            title="50 new replies on #42: Printer on fire",
            body="From c@x.example",
            event_count=50,
            ticket_id=TICKET.id,
            ticket_number=42,
            ticket_subject="Printer on fire",
            user_name="Ana",
            user_email="ana@staff.example",
        )
        account = uuid.uuid4()
        request = notification_request(facts, account_id=account, app_url="https://desk.example/")
        assert request.outbound_id == notification_outbound_id(facts.notification_id)
        assert (request.kind, request.auto_submitted, request.ticket_id) == (
            "notification",
            "auto-generated",
            None,
        )
        assert [a.email for a in request.to] == ["ana@staff.example"]
        assert request.subject == facts.title
        assert "50 events" in request.text
        assert f"https://desk.example/tickets/{TICKET.id}" in request.text
        assert "Ticket #42: Printer on fire" in request.text
