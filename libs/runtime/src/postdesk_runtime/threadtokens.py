"""Tokens only postdesk can issue, naming a ticket: in reply addresses and Message-IDs.

A token is base32 of the ticket id (16 bytes) and a truncated HMAC-SHA256
of it (10 bytes) under a key derived from the keyring (ENCRYPTION_KEYS):
42 lower-case characters. Every key of the ring verifies, so rotating the
keyring keeps old tokens working until the old key is dropped.

- Reply address: `<local>+<token>@<domain>` of the account's address (plus
  addressing routes it to the account as before). Omitted when the local
  part would pass the 64 characters RFC 5321 allows.
- Message-ID: `pd.<token>.<unique>@<domain>`; `unique` tells our messages
  on one ticket apart.

A verified token proves the mail answers something we sent on that ticket,
which is why it may join a ticket its sender does not participate in; the
router still checks the ticket belongs to the receiving tenant.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable, Sequence

from postdesk_runtime.keyring import Keyring

PURPOSE = b"thread-token-v1"
MAC_BYTES = 10
TOKEN_CHARS = 42
MAX_LOCAL_PART = 64
_TOKEN = f"[a-z2-7]{{{TOKEN_CHARS}}}"
_MESSAGE_ID = re.compile(rf"^pd\.({_TOKEN})\.[0-9a-z-]{{1,64}}@", re.IGNORECASE)
_PLUS_TOKEN = re.compile(rf"^{_TOKEN}$", re.IGNORECASE)


class ThreadTokens:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("thread tokens need at least one key")
        self._keys = list(keys)

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> ThreadTokens:
        return cls(keyring.derived_keys(PURPOSE))

    def _mac(self, key: bytes, ticket_id: uuid.UUID) -> bytes:
        return hmac.new(key, ticket_id.bytes, hashlib.sha256).digest()[:MAC_BYTES]

    def token(self, ticket_id: uuid.UUID) -> str:
        raw = ticket_id.bytes + self._mac(self._keys[0], ticket_id)
        return base64.b32encode(raw).decode().rstrip("=").lower()

    def verify(self, token: str) -> uuid.UUID | None:
        """The ticket id a genuine token names, or None for anything else."""
        if not _PLUS_TOKEN.match(token):
            return None
        try:
            raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        except binascii.Error:
            return None
        if base64.b32encode(raw).decode().rstrip("=").lower() != token.lower():
            return None  # non-canonical: the last character's unused bits were changed
        ticket_id, mac = uuid.UUID(bytes=raw[:16]), raw[16:]
        if any(hmac.compare_digest(mac, self._mac(key, ticket_id)) for key in self._keys):
            return ticket_id
        return None

    def message_id(self, ticket_id: uuid.UUID, unique: str, domain: str) -> str:
        """A signed Message-ID (no angle brackets) for a message we send on the ticket."""
        suffix = re.sub(r"[^0-9a-z-]", "", unique.lower())[:64] or "0"
        return f"pd.{self.token(ticket_id)}.{suffix}@{domain}"

    def ticket_of_message_id(self, message_id: str) -> uuid.UUID | None:
        match = _MESSAGE_ID.match(message_id.strip().removeprefix("<"))
        return self.verify(match.group(1).lower()) if match else None

    def reply_address(self, ticket_id: uuid.UUID, account_address: str) -> str | None:
        """The account's address with the ticket's token as its plus tag, if it fits."""
        local, at, domain = account_address.partition("@")
        if not at or "+" in local:
            return None
        tagged = f"{local}+{self.token(ticket_id)}"
        return f"{tagged}@{domain}" if len(tagged) <= MAX_LOCAL_PART else None

    def first_ticket(
        self, plus_tokens: Iterable[str], message_ids: Iterable[str]
    ) -> uuid.UUID | None:
        """The ticket named by the first genuine reply-address token, else by the first
        signed Message-ID among `message_ids` (In-Reply-To, then References newest first)."""
        for token in plus_tokens:
            if (ticket_id := self.verify(token.lower())) is not None:
                return ticket_id
        for message_id in message_ids:
            if (ticket_id := self.ticket_of_message_id(message_id)) is not None:
                return ticket_id
        return None
