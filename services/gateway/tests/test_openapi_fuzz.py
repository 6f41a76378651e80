"""Schemathesis fuzzes every operation of the gateway's OpenAPI document against the real app.

Cases are generated from /schema/openapi.json, valid ones and invalid ones, sent
as a tenant admin and as a viewer through the app (real handlers, real
PostgreSQL), and every answer must be what the document says: no 5xx, a
documented status, content type, body and headers, and invalid input refused.

Hypothesis drives generation synchronously, so it runs in a worker thread; each
request is handed back to the test's event loop, where the app and its
database pool live.

The normal run is derandomized (the same cases every time, so CI cannot turn red
by chance). For a deeper look by hand: POSTDESK_FUZZ_SCALE=5 multiplies the cases,
POSTDESK_FUZZ_RANDOM=1 draws new ones (pass --timeout=1800 too).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [
    pytest.mark.integration,
    # Hypothesis notes a change of the global `random` state while a case is drawn; the
    # app's event loop runs in the main thread meanwhile and may draw from it (jitter).
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

BASE_URL = "http://gateway"
REQUEST_TIMEOUT_SECONDS = 30
# Per operation and generation mode; the whole file stays within about two minutes.
SCALE = float(os.environ.get("POSTDESK_FUZZ_SCALE", "1"))
RANDOM = os.environ.get("POSTDESK_FUZZ_RANDOM") == "1"
EXAMPLES = {"admin": round(16 * SCALE), "viewer": round(6 * SCALE)}
# Each of these hashes a password (argon2, deliberately slow): fewer cases.
SLOW = {"POST /auth/login": 3, "POST /me/password": 3}
# Event streams never end by themselves; their contract is tested in
# test_live_notifications.py and test_ticket_live.py.
STREAMS = {("GET", "/notifications/stream"), ("GET", "/tickets/{ticket_id}/events")}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
# requests.Request's arguments among what schemathesis serialises a case into.
REQUEST_FIELDS = ("method", "url", "headers", "params", "data", "json", "files", "cookies")

Case = schemathesis.Case[Any]


@dataclass(frozen=True)
class Target:
    """Where cases go: the app's client, on the loop that owns it, as one user."""

    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    headers: dict[str, str]

    def send(self, case: Case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=self.headers)
        prepared = requests.Request(**{k: kwargs[k] for k in REQUEST_FIELDS if k in kwargs})
        request = prepared.prepare()
        body = request.body.encode() if isinstance(request.body, str) else request.body
        assert body is None or isinstance(body, bytes)  # requests encodes every body we send
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        future = asyncio.run_coroutine_threadsafe(
            self.client.request(
                request.method or "GET", request.url or BASE_URL, headers=headers, content=body
            ),
            self.loop,
        )
        return future.result(timeout=REQUEST_TIMEOUT_SECONDS)


def real_ids(world: Any, role: str) -> dict[str, list[str]]:
    """Path ids of seeded rows, so that cases reach past the 404 (other tenants' too)."""
    tickets = [t.id for t in world.tickets.values()] + world.bulk_ticket_ids[:2]
    # Never the caller: deactivating or demoting themselves would end the run early.
    users = [u.id for name, u in world.users.items() if name not in {role, "admin", "viewer"}]
    return {
        "ticket_id": [str(i) for i in tickets],
        "message_id": [str(m.id) for m in world.messages.values()],
        "account_id": [str(a.id) for a in world.accounts.values()],
        "user_id": [str(i) for i in users],
    }


def strategy_for(
    operation: Any, mode: GenerationMode, ids: Mapping[str, Sequence[str]]
) -> st.SearchStrategy[Case]:
    generated: st.SearchStrategy[Case] = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    # Only valid cases: a negative case's invalid part may be the path id it would replace.
    if mode.is_negative or not names or not all(name in ids for name in names):
        return generated

    def seed(drawn: tuple[Case, dict[str, str]]) -> Case:
        case, values = drawn
        case.path_parameters = {**(case.path_parameters or {}), **values}
        return case

    known = st.fixed_dictionaries({name: st.sampled_from(ids[name]) for name in names})
    return st.one_of(generated, st.tuples(generated, known).map(seed))


def describe(error: BaseException) -> str:
    """The error and, for a group (hypothesis' flaky report, say), what it groups."""
    if not isinstance(error, BaseExceptionGroup):
        return str(error)
    inner = "\n".join(f"  - {type(e).__name__}: {describe(e)}" for e in error.exceptions)
    return f"{error}\n{inner}"


def fuzz_operation(
    target: Target,
    operation: Any,
    mode: GenerationMode,
    ids: Mapping[str, Sequence[str]],
    examples: int,
) -> str | None:
    """The first failure schemathesis finds for this operation, shrunk; None if none."""

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
        report_multiple_bugs=False,
        print_blob=True,
    )
    @hypothesis.given(case=strategy_for(operation, mode, ids))
    def run(case: Case) -> None:
        response = target.send(case)
        case.validate_response(response, checks=CHECKS, headers=target.headers)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        if mode.is_negative:
            return None  # nothing of the request can be made invalid (no parameters, no body)
        raise
    # Every failure is reported (schemathesis raises a group), and every operation still runs.
    except (Exception, BaseExceptionGroup) as error:
        return f"{mode.value} {operation.label}: {describe(error)}"
    return None


def fuzz_all(
    target: Target, schema: Any, ids: Mapping[str, Sequence[str]], examples: int
) -> list[str]:
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in STREAMS:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            count = min(examples, SLOW.get(operation.label, examples))
            failure = fuzz_operation(target, operation, mode, ids, count)
            if failure is not None:
                failures.append(failure)
    return failures


@pytest.mark.parametrize("role", ["viewer", "admin"])
async def test_every_operation_answers_as_documented(
    client: httpx.AsyncClient, world: Any, tokens: dict[str, str], role: str
) -> None:
    """Generated valid and invalid requests get documented answers, never a server error."""
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200, document.text
    schema = schemathesis.openapi.from_dict(document.json())
    # The token is the test's to send, not a parameter to fuzz: unauthenticated calls
    # are tested by the handlers' own modules.
    schema.config.generation.update(with_security_parameters=False)
    target = Target(client, asyncio.get_running_loop(), {"Authorization": f"Bearer {tokens[role]}"})
    started = time.monotonic()
    failures = await asyncio.to_thread(
        fuzz_all, target, schema, real_ids(world, role), EXAMPLES[role]
    )
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} operations failed ({elapsed:.0f} s):\n\n" + "\n\n".join(
        failures
    )
