"""Fixtures of the fault scenarios: a private pipeline per test, and the seeded corpus."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
import pytest_asyncio
from postdesk_runtime.db import make_engine

from tests.faults.stack import FaultStack, make_supervisor, prepare_tenant


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fault-corpus")


@pytest_asyncio.fixture(loop_scope="session")
async def fault_stack(
    private_database_url: str, private_amqp_url: str, tmp_path: Path
) -> AsyncIterator[FaultStack]:
    """Nothing started yet: each scenario starts what it needs (`await stack.start()`)."""
    log = io.StringIO()
    blob_dir = tmp_path / "blobs"
    engine = make_engine(private_database_url, pool_size=2)
    supervisor, smtp_port = make_supervisor(private_database_url, private_amqp_url, blob_dir, log)
    tenant_id = await prepare_tenant(engine, smtp_port)
    stack = FaultStack(
        private_database_url, private_amqp_url, blob_dir, engine, tenant_id, supervisor, log
    )
    try:
        yield stack
    finally:
        await asyncio.to_thread(supervisor.stop_all, 15)
        await engine.dispose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach the services' logs to the report."""
    report = yield
    stack = item.funcargs.get("fault_stack") if isinstance(item, pytest.Function) else None
    if report.failed and isinstance(stack, FaultStack):
        report.sections.append(("service logs", stack.log.getvalue()[-20000:]))
    return report
