"""Bounce reports: RFC 3464 delivery status and the common non-standard notices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from postdesk_contracts.events import MailKind
from postdesk_parser.bounce import read_bounce
from postdesk_parser.domain import parse_mail

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "classify"


@dataclass(frozen=True)
class Part:
    content_type: str
    data: bytes


class TestDeliveryStatus:
    def test_postfix_dsn(self) -> None:
        """Postfix: only the failed recipient (not the delayed one), its status, the unfolded
        diagnostic, and the original Message-ID from text/rfc822-headers."""
        parsed = parse_mail((CORPUS / "postfix-dsn.eml").read_bytes())
        assert parsed.classification.kind is MailKind.BOUNCE
        assert parsed.bounce is not None
        assert parsed.bounce.failed_recipients == ["nobody@customer.example"]
        assert parsed.bounce.status == "5.1.1"
        assert parsed.bounce.reason == (
            "550 5.1.1 <nobody@customer.example>: Recipient address rejected: User unknown"
        )
        assert parsed.bounce.original_message_id == "ticket-1234.reply-7@acme.example"

    def test_exim_dsn_with_whole_original(self) -> None:
        """Exim: fields in any order; the original Message-ID comes from the message/rfc822 part."""
        parsed = parse_mail((CORPUS / "exim-dsn-rfc822.eml").read_bytes())
        assert parsed.bounce is not None
        assert parsed.bounce.failed_recipients == ["full@customer.example"]
        assert parsed.bounce.status == "5.2.2"
        assert parsed.bounce.reason == "552 5.2.2 Mailbox full"
        assert parsed.bounce.original_message_id == "orig-42@acme.example"

    def test_delay_only_report_has_no_failed_recipients(self) -> None:
        """A report whose only recipient is delayed names no failed recipient but keeps the 4.x status."""
        status = b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        report = read_bounce([Part("message/delivery-status", status)], None, "mailer-daemon@mx")
        assert report is not None
        assert report.failed_recipients == []
        assert report.status == "4.4.1"

    def test_status_5_without_action_counts_as_failed(self) -> None:
        """With no Action field, a 5.x.x Status means the recipient failed; Original-Recipient is the fallback."""
        status = b"Original-Recipient: rfc822; <X@B.example>\r\nStatus: 5.7.1\r\n"
        report = read_bounce([Part("message/delivery-status", status)], None, "someone@mx")
        assert report is not None
        assert report.failed_recipients == ["x@b.example"]
        assert report.status == "5.7.1"


class TestNonStandard:
    def test_qmail_failure_notice(self) -> None:
        """qmail's plain-text notice: the address, status, SMTP reply, and the quoted Message-ID."""
        parsed = parse_mail((CORPUS / "qmail-nonstandard.eml").read_bytes())
        assert parsed.classification.kind is MailKind.BOUNCE
        assert parsed.bounce is not None
        assert parsed.bounce.failed_recipients == ["gone@oldhost.example"]
        assert parsed.bounce.status == "5.1.1"
        assert parsed.bounce.reason == "550 5.1.1 <gone@oldhost.example>... User unknown"
        assert parsed.bounce.original_message_id == "orig-77@acme.example"

    def test_daemon_mail_without_failure_text_has_no_report(self) -> None:
        """A postmaster message that does not read like a failure gives no bounce report."""
        assert read_bounce([], "Your mailbox quota is 80% used.", "postmaster@acme.example") is None

    def test_failure_text_from_a_person_is_not_a_bounce(self) -> None:
        """A human writing 'could not be delivered' is not parsed as a bounce."""
        assert (
            read_bounce([], "My parcel could not be delivered.", "alice@customer.example") is None
        )

    def test_human_mail_has_no_bounce(self) -> None:
        """Only bounce-classified mail carries a bounce report."""
        raw = b"From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n\r\nUser unknown?\r\n"
        assert parse_mail(raw).bounce is None
