"""The auto-reply rules, free of I/O: which mail is answered, whom, when, and what it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from postdesk_contracts import Address, BounceReport, MailClassification
from postdesk_contracts.events import MailKind
from postdesk_router.autoreply import (
    DEFAULT_CAPS,
    MAX_REFERENCES,
    RECIPIENT_CAP,
    TENANT_CAP,
    TICKET_CAPS,
    AutoReplySettings,
    Cap,
    CapScope,
    account_reason,
    address_reason,
    cap_reason,
    exceeded_cap,
    mail_reason,
    one_line,
    reply_recipient,
    reply_references,
    reply_subject,
    reply_text,
    suppression_reason,
    window_reason,
)

from .factories import make_parsed

BERLIN_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# Tuesday 5 March 2024: 10:00 and 20:00 in Berlin (UTC+1)
TUESDAY_10_BERLIN = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
TUESDAY_20_BERLIN = datetime(2024, 3, 5, 19, 0, tzinfo=UTC)


def settings(**overrides: Any) -> AutoReplySettings:
    fields: dict[str, Any] = {
        "enabled": True,
        "message": "Thanks, we got your mail.",
        "subject": "",
        "schedule": "always",
        "window_minutes": 1440,
        "timezone": "Europe/Berlin",
        "working_hours": BERLIN_HOURS,
        "signature": "Acme Support",
        "display_name": "Acme Support",
        "address": "cs@acme.example",
    }
    fields.update(overrides)
    return AutoReplySettings(**fields)


def classified(kind: MailKind, *reasons: str, auto_submitted: str | None = None) -> Any:
    return MailClassification(kind=kind, reasons=list(reasons), auto_submitted=auto_submitted)


def test_a_human_mail_is_answered() -> None:
    assert mail_reason(make_parsed()) is None
    assert suppression_reason(make_parsed(), settings(), TUESDAY_10_BERLIN) is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"source": "imap-backfill"}, "imported from a mailbox backfill"),
        (
            {"classification": classified(MailKind.AUTO_REPLY, "auto-submitted: auto-replied")},
            "mail is auto_reply (auto-submitted: auto-replied)",
        ),
        (
            {"classification": classified(MailKind.BOUNCE, "sender mailer-daemon")},
            "mail is bounce (sender mailer-daemon)",
        ),
        (
            {"classification": classified(MailKind.LIST, "precedence: bulk")},
            "mail is list (precedence: bulk)",
        ),
        ({"classification": classified(MailKind.LIST, "list-id header")}, "mail is list"),
        ({"classification": classified(MailKind.SPAM, "x-spam-flag: yes")}, "mail is spam"),
        (
            {"classification": classified(MailKind.HUMAN, auto_submitted="auto-generated")},
            "mail is automatic (auto-submitted: auto-generated)",
        ),
        (
            {"classification": classified(MailKind.HUMAN, "null return-path")},
            "null return-path (RFC 3834: never answer it)",
        ),
        ({"bounce": BounceReport(status="5.1.1")}, "mail is a delivery status report"),
        ({"from_": None}, "mail has no sender"),
    ],
)
def test_mail_that_is_never_answered(overrides: dict[str, Any], expected: str) -> None:
    """Backfill imports, non-human mail (each kind), Auto-Submitted, null sender, bounces."""
    reason = mail_reason(make_parsed(**overrides))
    assert reason is not None
    assert reason.startswith(expected)


def test_auto_submitted_no_is_a_person() -> None:
    """RFC 3834: "Auto-Submitted: no" means a person wrote it."""
    mail = make_parsed(classification=classified(MailKind.HUMAN, auto_submitted="no"))
    assert mail_reason(mail) is None


def test_reply_goes_to_reply_to_first_else_from() -> None:
    form = make_parsed(
        from_=Address(email="noreply@shop.example"),
        reply_to=[Address(name="Carol\r\nX", email="Carol@Customer.example")],
    )
    assert reply_recipient(form) == Address(name="Carol X", email="carol@customer.example")
    assert suppression_reason(form, settings(), TUESDAY_10_BERLIN) is None
    assert reply_recipient(make_parsed()) == Address(
        name="Carol Customer", email="carol@customer.example"
    )
    assert reply_recipient(make_parsed(from_=None)) is None


@pytest.mark.parametrize(
    "address",
    [
        "noreply@shop.example",
        "no-reply@shop.example",
        "no_reply+x@shop.example",
        "noreply-billing@shop.example",
        "donotreply@shop.example",
        "do-not-reply@shop.example",
        "mailer-daemon@mx.example",
        "postmaster@mx.example",
        "bounces@lists.example",
        "owner-users@lists.example",
        "users-request@lists.example",
        "users-bounces@lists.example",
        "majordomo@lists.example",
    ],
)
def test_addresses_no_person_reads_are_never_answered(address: str) -> None:
    assert address_reason(address) == f"{address} is not a person's mailbox"


@pytest.mark.parametrize("address", ["", "carol", "carol@", "@x.example", "a b@x.example", "a@x"])
def test_unusable_addresses_are_never_answered(address: str) -> None:
    reason = address_reason(address)
    assert reason is not None
    assert "not a usable address" in reason


@pytest.mark.parametrize(
    "address", ["carol@customer.example", "replyall@x.example", "requests@x.example"]
)
def test_ordinary_addresses_are_answered(address: str) -> None:
    assert address_reason(address) is None


def test_noreply_reply_to_suppresses() -> None:
    mail = make_parsed(reply_to=[Address(email="noreply@shop.example")])
    assert suppression_reason(mail, settings(), TUESDAY_10_BERLIN) == (
        "noreply@shop.example is not a person's mailbox"
    )


def test_account_settings() -> None:
    assert account_reason(settings(enabled=False), TUESDAY_10_BERLIN) == "auto-reply disabled"
    assert account_reason(settings(message="  \n"), TUESDAY_10_BERLIN) == (
        "no auto-reply message set"
    )
    assert account_reason(settings(schedule="weekends"), TUESDAY_10_BERLIN) == (
        "unknown auto-reply schedule 'weekends'"
    )


def test_outside_hours_answers_only_outside_the_accounts_working_hours() -> None:
    """In the account's timezone: 10:00 Berlin is working time, 20:00 and Saturday are not."""
    outside = settings(schedule="outside_hours")
    assert account_reason(outside, TUESDAY_10_BERLIN) == "within the account's working hours"
    assert account_reason(outside, TUESDAY_20_BERLIN) is None
    assert account_reason(outside, TUESDAY_10_BERLIN + timedelta(days=4)) is None
    # 08:30 UTC is 09:30 in Berlin but 08:30 in London
    assert account_reason(outside, datetime(2024, 3, 5, 8, 30, tzinfo=UTC)) is not None
    london = settings(schedule="outside_hours", timezone="Europe/London")
    assert account_reason(london, datetime(2024, 3, 5, 8, 30, tzinfo=UTC)) is None
    always = settings(schedule="always")
    assert account_reason(always, TUESDAY_10_BERLIN) is None


def test_outside_hours_without_usable_hours_never_answers() -> None:
    """No working hours: always open. Broken ones count as always open too (and say so)."""
    assert account_reason(
        settings(schedule="outside_hours", working_hours={}), TUESDAY_20_BERLIN
    ) == ("within the account's working hours")
    reason = account_reason(
        settings(schedule="outside_hours", working_hours={"mon": [["9", "17"]]}), TUESDAY_20_BERLIN
    )
    assert reason is not None
    assert reason.startswith("unusable working hours")
    reason = account_reason(
        settings(schedule="outside_hours", timezone="Mars/Olympus"), TUESDAY_20_BERLIN
    )
    assert reason is not None
    assert "unknown timezone" in reason


def test_window_allows_one_per_address() -> None:
    assert window_reason(0, 1440, "carol@customer.example") is None
    assert window_reason(1, 1440, "carol@customer.example") == (
        "already auto-replied to carol@customer.example within 1440 minutes"
    )
    assert window_reason(5, 0, "carol@customer.example") is None  # window off


def test_default_caps_are_zammads_per_ticket_and_ours_per_address_and_tenant() -> None:
    assert [(c.scope, c.limit, c.span) for c in TICKET_CAPS] == [
        (CapScope.TICKET, 10, timedelta(minutes=10)),
        (CapScope.TICKET, 100, timedelta(hours=10)),
    ]
    assert (RECIPIENT_CAP.limit, RECIPIENT_CAP.span) == (20, timedelta(hours=1))
    assert (TENANT_CAP.limit, TENANT_CAP.span) == (1000, timedelta(hours=1))
    assert (*TICKET_CAPS, RECIPIENT_CAP, TENANT_CAP) == DEFAULT_CAPS
    assert [cap_reason(c) for c in DEFAULT_CAPS] == [
        "cap reached: 10 automatic mails per ticket in 10 minutes",
        "cap reached: 100 automatic mails per ticket in 10 hours",
        "cap reached: 20 automatic mails per address in 1 hour",
        "cap reached: 1000 automatic mails per tenant in 1 hour",
    ]


def test_a_cap_is_reached_when_its_span_holds_limit_mails() -> None:
    """The 11th mail in 10 minutes is the one suppressed: 10 already sent reach the cap."""
    ten_minutes, ten_hours = TICKET_CAPS
    assert exceeded_cap([(ten_minutes, 9), (ten_hours, 99)]) is None
    assert exceeded_cap([(ten_minutes, 10), (ten_hours, 10)]) == ten_minutes
    assert exceeded_cap([(ten_minutes, 2), (ten_hours, 100)]) == ten_hours
    assert exceeded_cap([]) is None
    assert exceeded_cap([(Cap(CapScope.TENANT, 0, timedelta(hours=1)), 0)]) is not None


@pytest.mark.parametrize(
    ("custom", "ticket_subject", "expected"),
    [
        ("", "Printer on fire", "Re: Printer on fire [#12]"),
        ("", "RE: Printer on fire", "RE: Printer on fire [#12]"),
        ("", "Re: Printer on fire [#12]", "Re: Printer on fire [#12]"),
        ("", "Re: Hello [#7]", "Re: Hello [#7] [#12]"),  # a peer helpdesk's tag: ours comes last
        ("We got your mail", "Printer on fire", "We got your mail [#12]"),
        ("Got it\r\nBcc: victim@example.com", "x", "Got it Bcc: victim@example.com [#12]"),
        ("", "(no subject)", "Re: (no subject) [#12]"),
    ],
)
def test_reply_subject_threads_with_the_ticket_tag(
    custom: str, ticket_subject: str, expected: str
) -> None:
    assert reply_subject(custom, ticket_subject, 12) == expected


def test_reply_text_is_message_then_signature() -> None:
    assert reply_text("Thanks.\n", "Acme Support\n") == "Thanks.\n\n-- \nAcme Support"
    assert reply_text("Thanks.", "  ") == "Thanks."


def test_references_end_with_the_answered_mail_and_stay_bounded() -> None:
    assert reply_references(["a@x", "b@x"], "c@x") == ["a@x", "b@x", "c@x"]
    assert reply_references(["a@x", "c@x"], "c@x") == ["a@x", "c@x"]
    long = [f"{i}@x" for i in range(50)]
    bounded = reply_references(long, "last@x")
    assert len(bounded) == MAX_REFERENCES
    assert bounded[0] == "0@x"
    assert bounded[-2:] == ["49@x", "last@x"]


def test_one_line() -> None:
    assert one_line(" a\r\n\tb\x00 c  ") == "a b c"
