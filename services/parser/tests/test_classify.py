"""Classification rules, one by one: downstream relies on them to prevent mail loops."""

from __future__ import annotations

import pytest
from postdesk_contracts.events import MailKind
from postdesk_parser.classify import is_vacation_subject
from postdesk_parser.domain import parse_mail


def mail(
    *headers: str, subject: str = "Order 1234", sender: str = "alice@customer.example"
) -> bytes:
    lines = [
        f"From: {sender}",
        "To: support@acme.example",
        f"Subject: {subject}",
        "Message-ID: <c-1@customer.example>",
        *headers,
        "",
        "Hello, my order has not arrived.",
        "",
    ]
    return "\r\n".join(lines).encode()


def kind_of(raw: bytes) -> MailKind:
    return parse_mail(raw).classification.kind


class TestHuman:
    def test_plain_mail_is_human_without_reasons(self) -> None:
        """A message with none of the signals is human, with no reasons."""
        parsed = parse_mail(mail())
        assert parsed.classification.kind is MailKind.HUMAN
        assert parsed.classification.reasons == []

    def test_auto_submitted_no_outweighs_vacation_subject(self) -> None:
        """Auto-Submitted: no (written by a person) beats the vacation-subject heuristic."""
        assert kind_of(mail("Auto-Submitted: no", subject="Out of office: hi")) is MailKind.HUMAN

    @pytest.mark.parametrize(
        "subject",
        ["Holiday booking question", "Refund for my absence fee", "Automatic renewal of my plan"],
    )
    def test_ordinary_subjects_are_not_vacation(self, subject: str) -> None:
        """Subjects that merely mention holidays or automation stay human."""
        assert kind_of(mail(subject=subject)) is MailKind.HUMAN

    def test_x_spam_status_no_is_human(self) -> None:
        """X-Spam-Status: No, score=... does not flag spam."""
        assert kind_of(mail("X-Spam-Status: No, score=-0.1 required=5.0")) is MailKind.HUMAN

    def test_rspamd_no_action_is_human(self) -> None:
        """rspamd's 'no action' and a False result are not spam."""
        raw = mail("X-Rspamd-Action: no action", "X-Spamd-Result: default: False [1.20 / 15.00]")
        assert kind_of(raw) is MailKind.HUMAN


class TestAutoReply:
    @pytest.mark.parametrize(
        "header",
        [
            "Auto-Submitted: auto-replied",
            "Auto-Submitted: auto-generated",
            "Auto-Submitted: auto-notified; owner-email=x@y.example",
            "X-Autoreply: yes",
            "X-Autorespond: vacation",
            "X-Autoresponder: on",
            "Precedence: auto_reply",
        ],
    )
    def test_auto_reply_headers(self, header: str) -> None:
        """Each RFC 3834 / de-facto auto-reply header marks an auto-reply, with a reason."""
        parsed = parse_mail(mail(header))
        assert parsed.classification.kind is MailKind.AUTO_REPLY
        assert parsed.classification.reasons

    def test_auto_submitted_value_is_kept(self) -> None:
        """The Auto-Submitted value is reported as it came, lower-cased."""
        parsed = parse_mail(mail("Auto-Submitted: Auto-Replied"))
        assert parsed.classification.auto_submitted == "auto-replied"

    @pytest.mark.parametrize(
        "subject",
        [
            "Out of Office: Re: Order 1234",
            "Automatic reply: Order 1234",
            "Autoreply: Order 1234",
            "Di luar kantor: Pesanan 1234",
            "Balasan otomatis: Pesanan",
            "Abwesenheitsnotiz: Bestellung 1234",
            "Automatische Antwort: Bestellung",
            "Absence du bureau : commande",
            "Réponse automatique : commande",
            "Fuera de la oficina: pedido",
            "Respuesta automática: pedido",
            "Resposta automática: pedido",
            "Ausência temporária",
            "Afwezigheidsbericht: bestelling",
            "Automatisch antwoord: bestelling",
            "自動応答: ご注文",
            "不在通知",
            "自动回复: 订单",
            "Автоматический ответ: заказ",
            "Вне офиса",
        ],
    )
    def test_vacation_subjects_in_our_languages(self, subject: str) -> None:
        """Out-of-office subjects in every language we serve mark an auto-reply."""
        assert is_vacation_subject(subject)
        assert kind_of(mail(subject=subject)) is MailKind.AUTO_REPLY

    def test_read_receipt_report_is_auto_reply(self) -> None:
        """A multipart/report other than delivery-status (a read receipt) is an auto-reply."""
        raw = mail(
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
        )
        assert kind_of(raw) is MailKind.AUTO_REPLY


class TestBounce:
    def test_delivery_status_report_is_bounce(self) -> None:
        """multipart/report; report-type=delivery-status is a bounce."""
        raw = mail(
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type="delivery-status"; boundary="b"',
        )
        assert kind_of(raw) is MailKind.BOUNCE

    @pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "postmaster@mx.example"])
    def test_daemon_senders_are_bounces(self, sender: str) -> None:
        """Mail from MAILER-DAEMON or postmaster is a bounce."""
        assert kind_of(mail(sender=sender)) is MailKind.BOUNCE

    def test_bounce_wins_over_other_kinds(self) -> None:
        """A bounce that also looks automatic or listed is still classified bounce, all reasons kept."""
        parsed = parse_mail(
            mail(
                "Auto-Submitted: auto-replied",
                "List-Id: <x.example>",
                sender="MAILER-DAEMON@mx.example",
            )
        )
        assert parsed.classification.kind is MailKind.BOUNCE
        assert len(parsed.classification.reasons) >= 3


class TestSpam:
    @pytest.mark.parametrize(
        "header",
        [
            "X-Spam-Flag: YES",
            "X-Spam-Status: Yes, score=9.1 required=5.0 tests=BAYES_99",
            "X-Spam: yes",
            "X-Rspamd-Action: reject",
            "X-Rspamd-Action: add header",
            "X-Rspamd-Action: rewrite subject",
            "X-Spamd-Result: default: True [16.20 / 15.00]; BAYES_SPAM(5.1)",
        ],
    )
    def test_mta_spam_verdicts(self, header: str) -> None:
        """Each MTA spam verdict (SpamAssassin, rspamd) marks spam."""
        assert kind_of(mail(header)) is MailKind.SPAM


class TestList:
    @pytest.mark.parametrize(
        "header",
        [
            "List-Id: Customers <customers.lists.example>",
            "List-Unsubscribe: <mailto:leave@lists.example>",
            "List-Post: <mailto:customers@lists.example>",
            "Precedence: bulk",
            "Precedence: list",
            "Precedence: junk",
        ],
    )
    def test_list_headers(self, header: str) -> None:
        """List-Id, List-Unsubscribe, List-Post and Precedence bulk/list/junk mark list mail."""
        assert kind_of(mail(header)) is MailKind.LIST

    def test_auto_reply_wins_over_list(self) -> None:
        """An auto-reply sent through a list is an auto-reply (the stricter loop guard)."""
        assert (
            kind_of(mail("List-Id: <l.example>", "Auto-Submitted: auto-replied"))
            is MailKind.AUTO_REPLY
        )
