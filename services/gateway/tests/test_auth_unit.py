"""Access tokens, password checks and settings, without servers."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher
from postdesk_gateway.auth import AUDIENCE, ISSUER, Passwords, TokenService, signing_key
from postdesk_gateway.domain import AuthenticationError
from postdesk_gateway.settings import JWT_SECRET_PLACEHOLDER, GatewaySettings
from postdesk_runtime.keyring import Keyring
from pydantic import ValidationError

SECRET = "unit-test-secret"


def service(minutes: int = 15, secret: str = SECRET) -> TokenService:
    return TokenService(secret, lifetime=timedelta(minutes=minutes))


def test_token_round_trip_carries_user_and_tenant() -> None:
    """A fresh token verifies to its user, tenant, a token id and a 15-minute lifetime."""
    user_id, tenant_id = uuid.uuid4(), uuid.uuid4()
    claims = service().verify(service().issue(user_id, tenant_id))
    assert (claims.user_id, claims.tenant_id) == (user_id, tenant_id)
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)
    assert isinstance(claims.token_id, uuid.UUID)


def test_every_token_has_its_own_id() -> None:
    """jti differs between two tokens of the same user issued at the same instant."""
    now = datetime.now(UTC)
    tokens = service()
    a, b = (tokens.verify(tokens.issue(uuid.uuid4(), uuid.uuid4(), now=now)) for _ in range(2))
    assert a.token_id != b.token_id


def test_expired_token_is_refused() -> None:
    """A token past its exp fails verification."""
    token = service().issue(uuid.uuid4(), uuid.uuid4(), now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(AuthenticationError):
        service().verify(token)


def test_token_of_another_secret_is_refused() -> None:
    """A token signed with a different secret fails verification."""
    token = service(secret="another-secret").issue(uuid.uuid4(), uuid.uuid4())
    with pytest.raises(AuthenticationError):
        service().verify(token)


def test_tampered_token_is_refused() -> None:
    """Changing the payload breaks the signature."""
    header, payload, signature = service().issue(uuid.uuid4(), uuid.uuid4()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="invalid or expired"):
        service().verify(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("missing", ["iss", "aud", "sub", "tid", "jti", "exp", "iat"])
def test_token_without_a_required_claim_is_refused(missing: str) -> None:
    """Each of iss, aud, sub, tid, jti, exp and iat is required."""
    tokens = service()
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "tid": str(uuid.uuid4()),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    assert tokens.verify(jwt.encode(claims, signing_key(SECRET), algorithm="HS256"))
    del claims[missing]
    token = jwt.encode(claims, signing_key(SECRET), algorithm="HS256")
    with pytest.raises(AuthenticationError):
        tokens.verify(token)


def test_unsigned_token_is_refused() -> None:
    """alg=none tokens are never accepted."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "tid": str(uuid.uuid4()),
        "jti": "x",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    with pytest.raises(AuthenticationError):
        service().verify(jwt.encode(claims, None, algorithm="none"))


async def test_password_verification() -> None:
    """The right password verifies; a wrong one, a broken hash and an unknown user do not."""
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024))
    stored = await passwords.hash("s3cret")
    assert await passwords.verify(stored, "s3cret")
    assert not await passwords.verify(stored, "wrong")
    assert not await passwords.verify("not-an-argon2-hash", "s3cret")
    assert not await passwords.verify(None, "s3cret")


PROD_KEYS = Keyring.generate_setting("prod")


def test_placeholder_secret_is_refused_in_production() -> None:
    """ENVIRONMENT=production with the development JWT secret fails at startup."""
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        GatewaySettings(
            environment="production", jwt_secret=JWT_SECRET_PLACEHOLDER, encryption_keys=PROD_KEYS
        )
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        GatewaySettings(environment="production", jwt_secret="short", encryption_keys=PROD_KEYS)
    settings = GatewaySettings(
        environment="production", jwt_secret="s" * 32, encryption_keys=PROD_KEYS
    )
    assert settings.jwt_secret == "s" * 32


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """JWT_SECRET, ACCESS_TOKEN_MINUTES and CORS_ORIGINS come from the environment."""
    monkeypatch.setenv("JWT_SECRET", "from-env")
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "5")
    monkeypatch.setenv("CORS_ORIGINS", '["https://app.example"]')
    settings = GatewaySettings()
    assert (settings.jwt_secret, settings.access_token_minutes) == ("from-env", 5)
    assert settings.cors_origins == ["https://app.example"]
    assert settings.http_port == 8000
