"""Fixtures of the security suite: the real gateway app on this test session's PostgreSQL
and RabbitMQ (`postdesk_testing`), one tenant of its own, and users made per test.

The login limits are raised so that probes sending many failed logins from one address
measure the answers, not the throttle; the lockout and throttle have their own tests in
services/gateway/tests/test_access.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from litestar import Litestar
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, make_engine, make_sessions
from postdesk_schema import Tenant
from postdesk_testing import asgi_client, started
from postdesk_testing.gateway_login import PASSWORD

from tests.faults.stack import FaultStack
from tests.security.gateway_api import JWT_SECRET
from tests.security.hostile_stack import HostileInbox, delivered_hostile_mail
from tests.security.pipeline import PIPELINE_ENV, running_pipeline
from tests.security.users import UserFactory

LOGIN_LIMIT = 10_000


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url, pool_size=2)
    yield make_sessions(engine)
    await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def settings(database_url: str, amqp_url: str) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        amqp_url=amqp_url,
        jwt_secret=JWT_SECRET,
        db_pool_size=2,
        login_max_failures=LOGIN_LIMIT,
        login_ip_max_failures=LOGIN_LIMIT,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(settings: GatewaySettings) -> AsyncIterator[Litestar]:
    application = create_app(settings)
    async with started(application):
        yield application


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def new_user(sessions: Sessions) -> UserFactory:
    tenant = Tenant(name="Security", slug=f"security-{uuid.uuid4().hex[:8]}")
    async with sessions() as session:
        session.add(tenant)
        await session.commit()
    return UserFactory(sessions, tenant.id, PasswordHasher().hash(PASSWORD))


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def hostile_inbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HostileInbox]:
    """Every service running as a process, the mails of hostile_mail delivered and each a
    ticket: one pipeline shared by the content, rendering and remote-content attacks."""
    async with delivered_hostile_mail(tmp_path_factory.mktemp("hostile")) as inbox:
        yield inbox


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def pipeline(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
    """The pipeline and the mail sink as processes (tests/security/pipeline.py): one shared
    by the header-injection, spoofing and bomb attacks."""
    async with running_pipeline(tmp_path_factory.mktemp("pipeline"), **PIPELINE_ENV) as stack:
        yield stack
