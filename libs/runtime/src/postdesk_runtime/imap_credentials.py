"""IMAP passwords at rest (imap_mailboxes.password_ciphertext): keyring tokens bound to the
purpose b"imap-password".

Shared by everyone who stores or reads them: the gateway's admin API and the
CLI seal, ingest opens.
"""

from __future__ import annotations

from typing import Final

from postdesk_runtime.keyring import Keyring

IMAP_PASSWORD_PURPOSE: Final = b"imap-password"


def seal_imap_password(keyring: Keyring, password: str) -> str:
    """The value to store in imap_mailboxes.password_ciphertext."""
    return keyring.encrypt_text(password, purpose=IMAP_PASSWORD_PURPOSE)


def open_imap_password(keyring: Keyring, token: str) -> str:
    """The password back; raises KeyringError for a damaged token or an unknown key."""
    return keyring.decrypt_text(token, purpose=IMAP_PASSWORD_PURPOSE)
