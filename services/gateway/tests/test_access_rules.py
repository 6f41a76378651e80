"""The pure rules of access: login throttle window, scopes per route, password strength."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from postdesk_contracts.api_access import ApiScope
from postdesk_gateway.access import (
    SESSION_ONLY,
    LoginThrottle,
    hash_token,
    is_locked,
    new_api_token,
    required_scope,
    weak_password_reason,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class TestLoginThrottle:
    def test_waits_after_the_limit_until_the_oldest_failure_leaves_the_window(self) -> None:
        """Three failures in a minute: the fourth try waits until the first is a minute old."""
        throttle = LoginThrottle(3, timedelta(minutes=1))
        for seconds in (0, 10, 20):
            assert throttle.retry_after("10.0.0.1", NOW + timedelta(seconds=seconds)) is None
            throttle.record_failure("10.0.0.1", NOW + timedelta(seconds=seconds))
        assert throttle.retry_after("10.0.0.1", NOW + timedelta(seconds=30)) == 30
        assert throttle.retry_after("10.0.0.2", NOW + timedelta(seconds=30)) is None
        assert throttle.retry_after("10.0.0.1", NOW + timedelta(seconds=60)) is None


@pytest.mark.parametrize(
    ("method", "path", "opt", "scope"),
    [
        ("GET", "/tickets", {}, ApiScope.TICKETS_READ),
        ("HEAD", "/tickets/x", {}, ApiScope.TICKETS_READ),
        ("POST", "/tickets/x/notes", {}, ApiScope.TICKETS_WRITE),
        ("DELETE", "/tickets/x", {}, ApiScope.TICKETS_WRITE),
        ("GET", "/admin/departments/x/managers", {}, ApiScope.ADMIN_READ),
        ("PUT", "/admin/departments/x/managers", {}, ApiScope.ADMIN_WRITE),
        ("GET", "/admin/webhooks", {}, ApiScope.WEBHOOKS_MANAGE),
        ("PUT", "/admin/webhook-settings", {}, ApiScope.WEBHOOKS_MANAGE),
        ("GET", "/admin/api-tokens", SESSION_ONLY, None),
        ("POST", "/me/password", SESSION_ONLY, None),
    ],
)
def test_required_scope(
    method: str, path: str, opt: dict[str, bool], scope: ApiScope | None
) -> None:
    """Reads, writes, admin and webhook routes each need their scope; session-only none."""
    assert required_scope(method, path, opt) == scope


@pytest.mark.parametrize(
    ("new", "refused"),
    [
        ("old password 123", True),
        ("jane.doe rocks it!", True),
        ("abababababababab", True),
        ("five distinct chars ok", False),
    ],
)
def test_weak_password_reason(new: str, refused: bool) -> None:
    """The current password, the login's name or too few characters are refused."""
    reason = weak_password_reason(new, current="old password 123", login="jane.doe@example.test")
    assert (reason is not None) is refused


def test_tokens_and_locks() -> None:
    """API tokens are pdk_ and random; a hash is hex sha256; a lock holds until its time."""
    first, second = new_api_token(), new_api_token()
    assert first.startswith("pdk_")
    assert first != second
    assert len(hash_token(first)) == 64
    assert is_locked(NOW + timedelta(seconds=1), NOW)
    assert not is_locked(NOW, NOW)
    assert not is_locked(None, NOW)
