import uuid

from hypothesis import assume, given
from hypothesis import strategies as st
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.threadtokens import TOKEN_CHARS, ThreadTokens

OLD = Keyring.from_setting(Keyring.generate_setting("old"))
ROTATED = Keyring([("new", b"n" * 32), ("old", b"o" * 32)])
TOKENS = ThreadTokens.from_keyring(Keyring([("k", b"k" * 32)]))


def test_a_token_names_its_ticket_and_fits_an_address() -> None:
    ticket = uuid.uuid4()
    token = TOKENS.token(ticket)
    assert len(token) == TOKEN_CHARS
    assert token == token.lower()
    assert TOKENS.verify(token) == ticket
    assert TOKENS.verify(token.upper()) == ticket
    address = TOKENS.reply_address(ticket, "cs@acme.test")
    assert address == f"cs+{token}@acme.test"


@given(
    st.uuids(),
    st.integers(min_value=0, max_value=TOKEN_CHARS - 1),
    st.sampled_from("abcdefghijklmnopqrstuvwxyz234567"),
)
def test_a_changed_character_is_refused(ticket: uuid.UUID, position: int, replacement: str) -> None:
    """Any other character anywhere, the last one (with unused bits) included."""
    token = TOKENS.token(ticket)
    assume(token[position] != replacement)
    forged = token[:position] + replacement + token[position + 1 :]
    assert TOKENS.verify(forged) is None


def test_a_token_for_another_ticket_cannot_be_made_without_the_key() -> None:
    ticket, other = uuid.uuid4(), uuid.uuid4()
    token = TOKENS.token(ticket)
    foreign = ThreadTokens.from_keyring(OLD).token(other)
    assert TOKENS.verify(foreign) is None
    spliced = ThreadTokens.from_keyring(OLD).token(other)[:26] + token[26:]
    assert TOKENS.verify(spliced) is None


def test_signed_message_ids_verify_and_others_do_not() -> None:
    ticket = uuid.uuid4()
    message_id = TOKENS.message_id(ticket, "Outbound-1234", "acme.test")
    assert message_id.startswith("pd.")
    assert message_id.endswith("@acme.test")
    assert TOKENS.ticket_of_message_id(message_id) == ticket
    assert TOKENS.ticket_of_message_id(f"<{message_id}>") == ticket
    assert TOKENS.ticket_of_message_id("CAF=abc@mail.gmail.com") is None
    assert TOKENS.ticket_of_message_id("pd.notatoken.1@acme.test") is None


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() -> None:
    ticket = uuid.uuid4()
    before = ThreadTokens.from_keyring(Keyring([("old", b"o" * 32)])).token(ticket)
    after = ThreadTokens.from_keyring(ROTATED)
    assert after.verify(before) == ticket
    assert after.token(ticket) != before
    assert (
        ThreadTokens.from_keyring(Keyring([("old", b"o" * 32)])).verify(after.token(ticket)) is None
    )


def test_reply_address_is_omitted_when_it_would_not_fit() -> None:
    ticket = uuid.uuid4()
    assert TOKENS.reply_address(ticket, "a" * 30 + "@acme.test") is None
    assert TOKENS.reply_address(ticket, "cs+x@acme.test") is None
    assert TOKENS.reply_address(ticket, "no-at-sign") is None


def test_first_ticket_prefers_the_reply_address() -> None:
    by_address, by_message_id = uuid.uuid4(), uuid.uuid4()
    found = TOKENS.first_ticket(
        ["shop", TOKENS.token(by_address)],
        ["x@y", TOKENS.message_id(by_message_id, "1", "acme.test")],
    )
    assert found == by_address
    assert (
        TOKENS.first_ticket([], ["x@y", TOKENS.message_id(by_message_id, "1", "a.test")])
        == by_message_id
    )
    assert TOKENS.first_ticket(["nope"], ["x@y"]) is None


def test_the_last_characters_unused_bits_cannot_be_changed() -> None:
    token = TOKENS.token(uuid.uuid4())
    others = [c for c in "abcdefghijklmnopqrstuvwxyz234567" if c != token[-1]]
    assert all(TOKENS.verify(token[:-1] + c) is None for c in others)
