"""Encryption at rest: round trips, rotation, and refusal of the wrong key or purpose."""

from __future__ import annotations

import pytest
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_runtime.settings import ServiceSettings
from pydantic import ValidationError


def test_round_trip_and_key_id() -> None:
    """What the active key sealed opens again, and names its key."""
    ring = Keyring.from_setting(Keyring.generate_setting("k1"))
    token = ring.encrypt(b"raw mail", purpose=b"blob")
    assert b"raw mail" not in token
    assert ring.key_id_of(token) == "k1"
    assert ring.decrypt(token, purpose=b"blob") == b"raw mail"


def test_rotation_keeps_old_ciphertexts_readable() -> None:
    """A new first key encrypts; tokens of the old key still decrypt while it stays in the ring."""
    old = Keyring.generate_setting("old")
    token = Keyring.from_setting(old).encrypt(b"x", purpose=b"blob")
    rotated = Keyring.from_setting(Keyring.generate_setting("new") + "," + old)
    assert rotated.active_key_id == "new"
    assert rotated.decrypt(token, purpose=b"blob") == b"x"
    assert rotated.key_id_of(rotated.encrypt(b"x", purpose=b"blob")) == "new"


def test_wrong_purpose_missing_key_and_tampering_are_refused() -> None:
    """A token opens only for its purpose, under its key, and unaltered."""
    ring = Keyring.from_setting(Keyring.generate_setting("k1"))
    token = ring.encrypt(b"secret", purpose=b"imap-password")
    with pytest.raises(KeyringError, match="purpose"):
        ring.decrypt(token, purpose=b"blob")
    with pytest.raises(KeyringError, match="not in the keyring"):
        Keyring.from_setting(Keyring.generate_setting("k2")).decrypt(
            token, purpose=b"imap-password"
        )
    with pytest.raises(KeyringError):
        ring.decrypt(token[:-1] + bytes([token[-1] ^ 1]), purpose=b"imap-password")


def test_bad_settings_are_refused() -> None:
    """Short keys, non-base64 keys and empty rings are configuration errors."""
    for setting in ("", "k:c2hvcnQ=", "k:not base64!"):
        with pytest.raises(KeyringError):
            Keyring.from_setting(setting)


def test_development_keyring_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENVIRONMENT=production without ENCRYPTION_KEYS fails to start."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):
        ServiceSettings()
    monkeypatch.setenv("ENCRYPTION_KEYS", Keyring.generate_setting("prod"))
    assert ServiceSettings().keyring().active_key_id == "prod"
