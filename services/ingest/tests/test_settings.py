"""Ingest settings from the environment."""

from __future__ import annotations

import pytest
from postdesk_ingest.settings import IngestSettings
from postdesk_runtime.keyring import Keyring
from pydantic import ValidationError


class TestIngestSettings:
    def test_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without environment, ingest listens on 8001 with the dev secret and a 25 MiB cap."""
        monkeypatch.delenv("INGEST_WEBHOOK_SECRET", raising=False)
        monkeypatch.delenv("INGEST_MAX_MESSAGE_BYTES", raising=False)
        monkeypatch.delenv("HTTP_PORT", raising=False)
        monkeypatch.delenv("ENVIRONMENT", raising=False)
        settings = IngestSettings()
        assert settings.http_port == 8001
        assert settings.webhook_secret.get_secret_value() == "dev-webhook-secret"
        assert settings.max_message_bytes == 25 * 1024 * 1024

    def test_reads_prefixed_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """INGEST_WEBHOOK_SECRET and INGEST_MAX_MESSAGE_BYTES configure the webhook."""
        monkeypatch.setenv("INGEST_WEBHOOK_SECRET", "real-secret")
        monkeypatch.setenv("INGEST_MAX_MESSAGE_BYTES", "1024")
        settings = IngestSettings()
        assert settings.webhook_secret.get_secret_value() == "real-secret"
        assert settings.max_message_bytes == 1024
        assert "real-secret" not in repr(settings)

    def test_placeholder_refused_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENVIRONMENT=production with the placeholder secret fails to start."""
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.setenv("ENCRYPTION_KEYS", Keyring.generate_setting("prod"))
        monkeypatch.delenv("INGEST_WEBHOOK_SECRET", raising=False)
        with pytest.raises(ValidationError, match="INGEST_WEBHOOK_SECRET"):
            IngestSettings()

    def test_real_secret_accepted_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENVIRONMENT=production with a real secret is fine."""
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.setenv("ENCRYPTION_KEYS", Keyring.generate_setting("prod"))
        monkeypatch.setenv("INGEST_WEBHOOK_SECRET", "a-real-secret-of-at-least-32-bytes!")
        assert IngestSettings().environment == "production"

    def test_short_secret_refused_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENVIRONMENT=production with a secret under 32 bytes fails to start."""
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.setenv("ENCRYPTION_KEYS", Keyring.generate_setting("prod"))
        monkeypatch.setenv("INGEST_WEBHOOK_SECRET", "short-secret")
        with pytest.raises(ValidationError, match="at least 32 bytes"):
            IngestSettings()
