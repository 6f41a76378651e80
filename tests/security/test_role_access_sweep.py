"""Every role on every operation of the OpenAPI document: what it may not do is refused,
and nothing it may not see reaches it.

Attacks, each over every operation (read from the app's own document, so a new route joins
by itself and fails until `role_matrix.RULES` gives it a rule):
- each of A's roles (admin, primary, backup, viewer, a member assigned nowhere) calls the
  operations the matrix refuses it on a mailbox it is staffed on: 403 or 404, no row of
  the target set in the answer, no row of either tenant changed. Each operation is then
  called by every role the matrix allows, on fresh rows: not refused (so the matrix is the
  gateway's, and the refusals above are not an accident of the request); the event streams
  (endless answers: test_ticket_live, test_live_notifications) and the caller's own
  password change (test_tokens) are left out of these allowed calls;
- API tokens acting as A's admin, one per scope, and one with every scope: 403 on every
  operation outside their scope (session-only routes for all of them), also on path
  spellings the router folds (`//admin/users`, a trailing slash); the token holding the
  scope is not refused (every read, and one write per scope);
- every role, and tokens with every scope acting as the admin and as the primary, name
  tenant B's rows in the path (every path id kind), with A's own rows in the body: 403 or
  404, none of B's markers or other ids in the answer, nothing changed;
- every non-admin names the rows of A's mailbox nobody is assigned to: 403 or 404, same
  checks.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from postdesk_contracts.api_access import ApiScope
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, make_blob_store

from tests.security.access_probe import (
    REFUSED,
    Endpoint,
    changed,
    endpoints,
    leaks,
    probe,
    state,
)
from tests.security.access_world import NON_ADMINS, ROLES, AccessWorld, Targets, build_world
from tests.security.role_matrix import PUBLIC_OPERATIONS, RULES, expected_scope

pytestmark = pytest.mark.integration

DENIED = frozenset({403, 404})
FOLDED_PATHS = ("//admin/users", "/admin//users", "/admin/users/")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    sessions: Sessions, client: httpx.AsyncClient, settings: GatewaySettings
) -> AccessWorld:
    return await build_world(sessions, client, make_blob_store(settings))


@pytest.fixture(scope="module")
def swept(app: Litestar) -> list[Endpoint]:
    """Every operation but the public ones (test_anonymous_surface covers those)."""
    found = endpoints(app.openapi_schema.to_schema())
    return [e for e in found if e.operation not in PUBLIC_OPERATIONS]


def test_every_operation_has_a_rule(swept: list[Endpoint]) -> None:
    """A route added without a rule fails here; so does a rule for a route that is gone."""
    documented = {e.operation for e in swept}
    assert documented - RULES.keys() == set(), "give these operations a rule in role_matrix"
    assert RULES.keys() - documented == set(), "these rules name no operation any more"
    assert len(documented) >= 90


async def refusals(
    client: httpx.AsyncClient,
    calls: list[tuple[str, Endpoint, dict[str, str]]],
    path_rows: Targets,
    body_rows: Targets,
    world: AccessWorld,
    allowed: frozenset[int] = DENIED,
) -> list[str]:
    """What is wrong with each (who, operation, headers) call on `path_rows`: an answer
    outside `allowed`, or one carrying `path_rows`."""
    failures = []
    for who, endpoint, headers in calls:
        caller = world.a.users.get(who, world.a.users["admin"]).id
        sent = probe(endpoint, path_rows, body_rows, caller)
        response = await sent.send(client, headers)
        if response.status_code not in allowed:
            failures.append(f"[{who}] {sent.method} {sent.url}: {response.status_code}")
        if found := leaks(response, path_rows, sent):
            failures.append(f"[{who}] {sent.method} {sent.url}: leaks {found}")
    return failures


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_refused_what_the_matrix_refuses_it(
    client: httpx.AsyncClient,
    sessions: Sessions,
    world: AccessWorld,
    swept: list[Endpoint],
    role: str,
) -> None:
    """Refused operations: 403/404 and no change; allowed ones, on fresh rows, not refused."""
    rows = await world.targets(world.a, staffed=True)
    headers = world.headers(role)
    refused = [(role, e, headers) for e in swept if role not in RULES[e.operation].allowed]
    before = await state(sessions, world.a.id, world.b.id)
    failures = await refusals(client, refused, rows, rows, world)
    failures += changed(before, await state(sessions, world.a.id, world.b.id))
    reads = await world.targets(world.a, staffed=True)  # the reads share; each write its own
    for endpoint in swept:
        rule = RULES[endpoint.operation]
        if role not in rule.allowed or rule.stream or rule.mutates_caller:
            continue
        fresh = reads if endpoint.method == "GET" else await world.targets(world.a, staffed=True)
        sent = probe(endpoint, fresh, fresh, world.a.users[role].id)
        response = await sent.send(client, headers)
        if response.status_code in REFUSED or response.status_code >= 500:
            failures.append(f"[{role}] allowed {sent.method} {sent.url}: {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert len(refused) >= (0 if role == "outsider" else 1)


async def test_api_tokens_are_refused_outside_their_scopes(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld, swept: list[Endpoint]
) -> None:
    """A token acting as the admin, with one scope (or all): 403 wherever it lacks the scope
    the matrix names (everywhere session-only); the token with it is let through."""
    grants = {str(s): [s] for s in ApiScope} | {"all": list(ApiScope)}
    tokens = {name: await world.api_token("admin", scopes) for name, scopes in grants.items()}
    rows = await world.targets(world.a, staffed=True)
    calls = []
    for endpoint in swept:
        needed = expected_scope(endpoint.operation)
        for name, scopes in grants.items():
            if needed not in scopes:
                calls.append((name, endpoint, {"Authorization": f"Bearer {tokens[name]}"}))
    before = await state(sessions, world.a.id, world.b.id)
    failures = await refusals(client, calls, rows, rows, world, frozenset({403}))
    for path in FOLDED_PATHS:
        response = await client.get(
            path, headers={"Authorization": f"Bearer {tokens['tickets:read']}"}
        )
        if response.status_code not in DENIED:
            failures.append(f"[tickets:read] GET {path}: {response.status_code}")
    failures += changed(before, await state(sessions, world.a.id, world.b.id))
    reads = await world.targets(world.a, staffed=True)
    written: set[ApiScope] = set()
    for endpoint in swept:
        rule, needed = RULES[endpoint.operation], expected_scope(endpoint.operation)
        if needed is None or "admin" not in rule.allowed or rule.stream:
            continue
        if endpoint.method != "GET" and needed in written:
            continue  # the writes took the role sweep's time: one per scope here
        written |= {needed} if endpoint.method != "GET" else set()
        fresh = reads if endpoint.method == "GET" else await world.targets(world.a, staffed=True)
        sent = probe(endpoint, fresh, fresh, world.a.users["admin"].id)
        response = await sent.send(client, {"Authorization": f"Bearer {tokens[str(needed)]}"})
        if response.status_code in REFUSED or response.status_code >= 500:
            failures.append(f"[{needed}] allowed {sent.method} {sent.url}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert len(calls) >= 4 * len(swept)


async def test_other_tenants_rows_are_refused_to_every_role(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld, swept: list[Endpoint]
) -> None:
    """B's ids in every path, A's own rows in the body: 403/404, nothing of B in the answer."""
    foreign = await world.targets(world.b, staffed=False)
    own = await world.targets(world.a, staffed=True)
    everything = [str(s) for s in ApiScope]
    bearers = {role: world.headers(role) for role in ROLES}
    for role in ("admin", "primary"):
        token = await world.api_token(role, list(ApiScope))
        bearers[f"{role} token {everything}"] = {"Authorization": f"Bearer {token}"}
    with_ids = [e for e in swept if e.params]
    calls = [(who, e, headers) for e in with_ids for who, headers in bearers.items()]
    before = await state(sessions, world.a.id, world.b.id)
    failures = await refusals(client, calls, foreign, own, world)
    failures += changed(before, await state(sessions, world.a.id, world.b.id))
    assert not failures, "\n".join(failures)
    assert {p for e in with_ids for p in e.params} == foreign.ids.keys()


async def test_unassigned_mailboxs_rows_are_refused_to_non_admins(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld, swept: list[Endpoint]
) -> None:
    """Rows of A's mailbox nobody is assigned to: 403/404 for every non-admin, and no leak."""
    unstaffed = await world.targets(world.a, staffed=False)
    own = await world.targets(world.a, staffed=True)
    with_ids = [e for e in swept if e.params]
    calls: list[tuple[str, Endpoint, dict[str, Any]]] = [
        (role, e, world.headers(role)) for e in with_ids for role in NON_ADMINS
    ]
    # the outsider's own notification is theirs, whatever its ticket
    calls = [c for c in calls if not (c[0] == "outsider" and "notification_id" in c[1].params)]
    before = await state(sessions, world.a.id)
    failures = await refusals(client, calls, unstaffed, own, world)
    failures += changed(before, await state(sessions, world.a.id))
    assert not failures, "\n".join(failures)
