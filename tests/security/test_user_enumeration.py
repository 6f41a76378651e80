"""No user enumeration through the login: an unknown login, a known login with a wrong
password and an inactive user's login get the same answer, after the same work.

The gateway has no self-service password reset (an admin resets passwords, behind a
token), so the login is the only place that takes an address from anyone.

The timing probe compares medians of interleaved tries with a coarse bound, because the
suite shares a two-core machine with other tests. The bound still fails by a wide margin
if the unknown login skips the argon2 check: that answer comes back in a few
milliseconds, against tens of milliseconds for a real check.
"""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import pytest
from postdesk_testing.gateway_login import PASSWORD, login

from tests.security.users import UserFactory

pytestmark = pytest.mark.integration

TRIES = 20
MAX_MEDIAN_RATIO = 2.0
VARYING_HEADERS = {"date"}


def unknown_login() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}@example.test"


def answer(response: httpx.Response) -> tuple[int, str, dict[str, str]]:
    """What a caller can compare: status, body and headers (but the clock's)."""
    headers = {k: v for k, v in response.headers.items() if k not in VARYING_HEADERS}
    return response.status_code, response.text, headers


async def timed_login(http: httpx.AsyncClient, email: str) -> float:
    started = time.perf_counter()
    response = await login(http, email, "wrong " + PASSWORD)
    elapsed = time.perf_counter() - started
    assert response.status_code == 401, response.text
    return elapsed


async def test_unknown_wrong_and_inactive_logins_answer_alike(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """The same status, body and headers for an unknown login, a known one with a wrong
    password and an inactive user with the right password; the right password logs in."""
    known, inactive = await new_user(), await new_user(is_active=False)
    answers = [
        answer(await login(client, unknown_login())),
        answer(await login(client, known.email, "wrong " + PASSWORD)),
        answer(await login(client, known.email.upper(), "wrong " + PASSWORD)),
        answer(await login(client, inactive.email)),
    ]
    assert answers[0][0] == 401
    assert all(a == answers[0] for a in answers), answers
    assert (await login(client, known.email)).status_code == 200


async def test_login_timing_does_not_tell_known_from_unknown(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """The median time of a wrong password for a known login and of an unknown login are
    within `MAX_MEDIAN_RATIO` of each other (interleaved, so load hits both alike)."""
    known = await new_user()
    await timed_login(client, known.email)  # warm-up: the unknown path's hash, the pools
    await timed_login(client, unknown_login())
    known_times, unknown_times = [], []
    for _ in range(TRIES):
        known_times.append(await timed_login(client, known.email))
        unknown_times.append(await timed_login(client, unknown_login()))
    known_median = statistics.median(known_times)
    unknown_median = statistics.median(unknown_times)
    ratio = max(known_median, unknown_median) / min(known_median, unknown_median)
    assert ratio < MAX_MEDIAN_RATIO, (
        f"known {known_median * 1000:.1f} ms, unknown {unknown_median * 1000:.1f} ms"
    )
