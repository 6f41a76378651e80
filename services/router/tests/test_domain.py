"""The router's pure rules."""

from __future__ import annotations

from postdesk_contracts import Address
from postdesk_router.domain import (
    MatchRule,
    ThreadKey,
    account_lookup_keys,
    choose_account,
    choose_thread,
    customer_of,
    linked_rule,
    may_join,
    pg_text,
    recipient_candidates,
    threading_keys,
    ticket_subject,
    ticket_tag_number,
    unknown_recipient_reason,
)

from .factories import make_parsed


class TestRecipientCandidates:
    def test_order_is_envelope_delivered_to_to_cc(self) -> None:
        """Envelope recipients come first, then Delivered-To, To and Cc."""
        mail = make_parsed(
            envelope_recipients=["env@x.example"],
            delivered_to=["dt@x.example"],
            to=[Address(email="to@x.example")],
            cc=[Address(email="cc@x.example")],
        )
        assert recipient_candidates(mail) == [
            "env@x.example",
            "dt@x.example",
            "to@x.example",
            "cc@x.example",
        ]

    def test_lower_cased_and_unique(self) -> None:
        """Addresses are lower-cased and each appears once, at its first position."""
        mail = make_parsed(
            envelope_recipients=[" CS@Acme.Example "],
            to=[Address(email="cs@acme.example"), Address(email="Other@Acme.example")],
            cc=[Address(email="OTHER@acme.example")],
        )
        assert recipient_candidates(mail) == ["cs@acme.example", "other@acme.example"]

    def test_first_known_candidate_wins(self) -> None:
        """The account of the earliest candidate is chosen even if a later one is also known."""
        accounts = {"b@x.example": "B", "c@x.example": "C"}
        assert choose_account(["a@x.example", "c@x.example", "b@x.example"], accounts) == "C"
        assert choose_account(["a@x.example"], accounts) is None

    def test_plus_addressing_and_catch_all(self) -> None:
        """A tagged address finds its base account; a catch-all only when no candidate names one."""
        accounts = {"cs@x.example": "CS"}
        catch_alls = {"x.example": "ALL", "y.example": "Y-ALL"}
        assert choose_account(["cs+orders@x.example"], accounts, catch_alls) == "CS"
        assert choose_account(["who@y.example", "cs@x.example"], accounts, catch_alls) == "CS"
        assert choose_account(["who@y.example", "who@x.example"], accounts, catch_alls) == "Y-ALL"
        assert choose_account(["who@z.example"], accounts, catch_alls) is None

    def test_lookup_keys(self) -> None:
        """Accounts are looked up by each candidate and its untagged base, and by each domain."""
        assert account_lookup_keys(["cs+a@x.example", "cs@x.example", "b@y.example"]) == (
            ["cs+a@x.example", "cs@x.example", "b@y.example"],
            ["x.example", "y.example"],
        )


class TestThreading:
    def test_in_reply_to_then_references_newest_first(self) -> None:
        """In-Reply-To is tried first, then References from the last (newest) to the first."""
        keys = threading_keys(["<p@x>"], ["r1@x", "r2@x", "p@x"])
        assert keys == [
            ThreadKey("p@x", MatchRule.IN_REPLY_TO),
            ThreadKey("r2@x", MatchRule.REFERENCES),
            ThreadKey("r1@x", MatchRule.REFERENCES),
        ]

    def test_blank_keys_are_ignored(self) -> None:
        """Empty or bracket-only ids never become keys."""
        assert threading_keys(["", "<>"], ["  "]) == []

    def test_choose_thread_uses_first_known_key(self) -> None:
        """The first key with a stored message names the ticket and the rule."""
        keys = threading_keys(["gone@x"], ["old@x", "new@x"])
        assert choose_thread(keys, {"old@x": "T1", "new@x": "T2"}) == ("T2", MatchRule.REFERENCES)
        assert choose_thread(keys, {"gone@x": "T0", "new@x": "T2"}) == ("T0", MatchRule.IN_REPLY_TO)
        assert choose_thread(keys, {}) is None


class TestTicketFields:
    def test_customer_is_sender_else_reply_to(self) -> None:
        """The customer is From, or the first Reply-To when From is missing."""
        assert customer_of(make_parsed()) == Address(
            name="Carol Customer", email="carol@customer.example"
        )
        mail = make_parsed(from_=None, reply_to=[Address(email="r@x.example")])
        assert customer_of(mail) == Address(email="r@x.example")
        assert customer_of(make_parsed(from_=None)) is None

    def test_blank_subject_gets_placeholder(self) -> None:
        """A ticket always has a subject to show."""
        assert ticket_subject("  ") == "(no subject)"
        assert ticket_subject(" Hi ") == "Hi"

    def test_reject_reason_names_recipients_and_is_bounded(self) -> None:
        """The rejection reason lists the recipients, and stays short for huge lists."""
        assert unknown_recipient_reason(["a@x"]) == "no active email account for recipients: a@x"
        assert unknown_recipient_reason([]) == "no recipient addresses in the message"
        assert len(unknown_recipient_reason([f"user{i}@x.example" for i in range(500)])) == 1_000

    def test_nul_characters_are_dropped(self) -> None:
        """Text headed for PostgreSQL loses NUL characters, which it cannot store."""
        assert pg_text("a\x00b") == "ab"
        assert ticket_subject("\x00") == "(no subject)"


def test_only_participants_may_join() -> None:
    """A sender joins only when a participant, whatever the rule; case and blanks do not matter."""
    participants = {"carol@customer.example"}
    for rule in (MatchRule.IN_REPLY_TO, MatchRule.REFERENCES, MatchRule.SUBJECT_TAG):
        assert may_join(" Carol@Customer.example ", participants, rule)
        assert not may_join("mallory@stranger.example", participants, rule)
        assert not may_join(None, participants, rule)
        assert not may_join("", {""}, rule)
    assert linked_rule(MatchRule.SUBJECT_TAG) == "linked:subject-tag:sender-not-participant"


def test_ticket_tag_number() -> None:
    """Only a positive number that fits a bigint is a ticket number."""
    assert ticket_tag_number("1234") == 1234
    assert ticket_tag_number(" 7 ") == 7
    for bad in (None, "", "0", "-3", "12a", "1" * 30, "\u0661\u0662"):
        assert ticket_tag_number(bad) is None, bad
