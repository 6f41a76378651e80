"""The checked-in AsyncAPI document and the demo tenant."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from postdesk_cli.asyncapi import asyncapi_document, render
from postdesk_cli.demo import seed_demo
from postdesk_cli.sla_rules import disable_policy
from postdesk_contracts.schedule import Schedule
from postdesk_runtime import make_engine, make_sessions
from postdesk_schema import EmailAccount, InboundAddress, SlaPolicy, User
from sqlalchemy import func, select
from sqlmodel import col

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_asyncapi_is_current() -> None:
    """docs/asyncapi.json is what the services' brokers describe now (regenerate with `postdesk asyncapi`)."""
    assert (ROOT / "docs" / "asyncapi.json").read_text() == render()


def test_asyncapi_names_every_consumer_queue_and_published_event() -> None:
    """Every subscription and the events each service publishes appear as channels."""
    channels = set(asyncapi_document()["channels"])
    for expected in (
        "parser.mail.received",
        "router.mail.parsed",
        "notifier.ticket.assigned",
        "outbound.outbound.requested",
    ):
        assert any(name.startswith(expected + ":") for name in channels), expected
    for event in (
        "mail.received",
        "mail.parsed",
        "ticket.created",
        "ticket.assigned",
        "outbound.requested",
        "mail.failed",
        "notification.created",
    ):
        assert f"{event}:publish" in channels, event


@pytest.mark.integration
async def test_demo_seed_is_idempotent(private_database_url: str) -> None:
    """Seeding twice finds the tenant (and cs@'s generated inbound address, and its SLA
    policy) the first run made."""
    engine = make_engine(private_database_url, pool_size=1)
    sessions = make_sessions(engine)
    first = await seed_demo(sessions)
    second = await seed_demo(sessions)
    assert second.tenant_id == first.tenant_id
    assert second.users == first.users
    assert set(first.accounts) == {"cs@acme.example", "sales@acme.example", "john@acme.example"}
    assert not second.created
    assert re.fullmatch(r"acme-[a-z2-7]{10}@in\.postdesk\.localhost", first.inbound_address)
    assert second.inbound_address == first.inbound_address
    async with sessions() as session:
        rows = (
            await session.execute(
                select(InboundAddress, col(EmailAccount.address)).join(
                    EmailAccount, col(EmailAccount.id) == col(InboundAddress.account_id)
                )
            )
        ).all()
    await engine.dispose()
    assert [(row[0].address, row[1], row[0].is_active) for row in rows] == [
        (first.inbound_address, "cs@acme.example", True)
    ]
    assert first.sla_policies == second.sla_policies == ["Standard"]


@pytest.mark.integration
async def test_demo_has_clocks_and_working_hours_the_router_uses(private_database_url: str) -> None:
    """The demo's SLA policy is tenant-wide calendar time (60 min first response, 8 h
    resolution), not brought back once disabled; its staff's working hours parse."""
    engine = make_engine(private_database_url, pool_size=1)
    sessions = make_sessions(engine)
    info = await seed_demo(sessions)
    async with sessions() as session:
        policy = (await session.scalars(select(SlaPolicy))).one()
        users = (await session.scalars(select(User))).all()
    assert (policy.tenant_id, policy.account_id, policy.department_id, policy.priority) == (
        info.tenant_id,
        None,
        None,
        None,
    )
    assert (policy.first_response_minutes, policy.resolution_minutes) == (60, 480)
    assert (policy.business_hours, policy.is_active) == (False, True)
    monday_noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    for user in users:
        schedule = Schedule.parse(user.working_hours, user.timezone)
        assert not schedule.always, user.email
        assert schedule.is_open(monday_noon)
        assert not schedule.is_open(monday_noon + timedelta(days=5))  # Saturday

    await disable_policy(sessions, policy.id)
    again = await seed_demo(sessions)
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(SlaPolicy))
    await engine.dispose()
    assert (again.sla_policies, count) == ([], 1)


@pytest.mark.integration
async def test_demo_command_prints_cs_inbound_address(
    private_database_url: str, tmp_path: Path
) -> None:
    """`postdesk demo` prints the generated address of cs@ that it stored."""
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).parent / "postdesk",
        "demo",
        env=os.environ | {"DATABASE_URL": private_database_url, "POSTDESK_VAR_DIR": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    printed = re.search(
        r"^inbound address for cs@acme\.example: (acme-[a-z2-7]{10}@in\.postdesk\.localhost)$",
        out.decode(),
        re.MULTILINE,
    )
    assert printed is not None, out.decode()
    engine = make_engine(private_database_url, pool_size=1)
    async with make_sessions(engine)() as session:
        stored = (await session.scalars(select(col(InboundAddress.address)))).all()
    await engine.dispose()
    assert stored == [printed.group(1)]


def test_checked_in_openapi_is_current() -> None:
    """web/openapi.json, which the console's typed client is generated from, is what the
    gateway serves now (regenerate with `postdesk openapi`; `npm run build` then type-checks
    the console against it)."""
    from postdesk_cli.openapi import render as render_openapi

    assert (ROOT / "web" / "openapi.json").read_text() == render_openapi()
