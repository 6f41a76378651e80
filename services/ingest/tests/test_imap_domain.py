"""IMAP rules without a server: after-actions, resume positions, backoff, password encryption."""

from __future__ import annotations

import pytest
from postdesk_ingest.imap import (
    AfterAction,
    ConfigError,
    ImapSettings,
    open_imap_password,
    seal_imap_password,
)
from postdesk_ingest.imap.domain import Backoff, new_uids, resume_at
from postdesk_runtime.keyring import Keyring, KeyringError


class TestAfterAction:
    def test_flag_defaults_to_seen(self) -> None:
        """ "flag" sets \\Seen."""
        assert AfterAction.parse("flag", None) == AfterAction("flag", flag="\\Seen")

    def test_flag_with_keyword(self) -> None:
        """ "flag:<keyword>" sets that keyword instead."""
        assert AfterAction.parse("flag:$Postdesk", None).flag == "$Postdesk"

    def test_flag_refuses_injection(self) -> None:
        """A keyword that is not an IMAP atom is refused (no command injection)."""
        with pytest.raises(ConfigError):
            AfterAction.parse("flag:a) (\\Deleted", None)

    def test_move_needs_a_folder(self) -> None:
        """ "move" without move_to_folder is a configuration error."""
        with pytest.raises(ConfigError):
            AfterAction.parse("move", None)
        assert AfterAction.parse("move", "Done") == AfterAction("move", folder="Done")

    def test_leave_and_unknown(self) -> None:
        """ "leave" does nothing; anything else is refused."""
        assert AfterAction.parse("leave", None).kind == "leave"
        with pytest.raises(ConfigError):
            AfterAction.parse("delete", None)


class TestPosition:
    def test_same_uidvalidity_resumes(self) -> None:
        """With the recorded UIDVALIDITY, reading resumes after last_uid."""
        assert resume_at(7, 42, 7).last_uid == 42
        assert not resume_at(7, 42, 7).reset

    def test_changed_uidvalidity_restarts(self) -> None:
        """A new UIDVALIDITY (or none recorded) restarts from UID 0."""
        assert resume_at(7, 42, 8).last_uid == 0
        assert resume_at(7, 42, 8).reset
        assert resume_at(None, 0, 8).reset

    def test_new_uids_ignore_the_star_answer(self) -> None:
        """UID SEARCH n:* also returns the highest UID below n; it is not new."""
        assert new_uids([5], 9) == []
        assert new_uids([12, 10, 11, 10], 9) == [10, 11, 12]


def test_backoff_doubles_up_to_the_maximum_and_resets() -> None:
    """Delays double from the initial one, stop at the maximum, and restart after reset."""
    backoff = Backoff(1.0, 5.0)
    assert [backoff.delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.delay() == 1.0


def test_password_round_trip_and_purpose_binding() -> None:
    """A password encrypts to a token that decrypts back, and only for the IMAP purpose."""
    keyring = Keyring.from_setting(Keyring.generate_setting("k1"))
    token = seal_imap_password(keyring, "s3cret")
    assert "s3cret" not in token
    assert open_imap_password(keyring, token) == "s3cret"
    with pytest.raises(KeyringError):
        keyring.decrypt_text(token, purpose=b"blob")


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """INGEST_IMAP_* variables configure the poller."""
    monkeypatch.setenv("INGEST_IMAP_ENABLED", "false")
    monkeypatch.setenv("INGEST_IMAP_LEASE_SECONDS", "12")
    settings = ImapSettings()
    assert not settings.enabled
    assert settings.lease_seconds == 12
