"""IMAP passwords at rest: keyring tokens bound to the purpose b"imap-password"."""

from __future__ import annotations

from postdesk_runtime.keyring import Keyring

PURPOSE = b"imap-password"


def encrypt_imap_password(keyring: Keyring, password: str) -> str:
    """The value to store in imap_mailboxes.password_ciphertext."""
    return keyring.encrypt_text(password, purpose=PURPOSE)


def decrypt_imap_password(keyring: Keyring, token: str) -> str:
    """The password back; raises KeyringError for a damaged token or an unknown key."""
    return keyring.decrypt_text(token, purpose=PURPOSE)
