"""Requests of the access sweeps: the operations of the OpenAPI document, filled with the ids
of a set of target rows, and what an answer must not contain."""

from __future__ import annotations

import asyncio
import copy
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from postdesk_runtime import Sessions
from sqlalchemy import text
from sqlmodel import SQLModel

from tests.security.access_world import Targets

METHODS = ("get", "post", "put", "patch", "delete")
TIMEOUT_SECONDS = 10
REFUSED = frozenset({401, 403, 404})
# Body fields naming a row, by the target they take; "self" is the caller.
BODY_IDS = {
    "account_id": "account_id",
    "catch_all_account_id": "account_id",
    "from_account_id": "account_id",
    "department_id": "department_id",
    "user_id": "user_id",
    "user_ids": "user_id",
    "acts_as_user_id": "user_id",
    "assignee_id": "self",
    "into_ticket_id": "second_ticket",
}
UNIQUE_FIELDS = ("email", "address", "domain")
UPLOAD = {"file": ("probe.txt", b"probe", "text/plain")}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: tuple[str, ...]
    body: dict[str, Any] | None  # the request model's first example
    fields: frozenset[str] = frozenset()  # the request model's fields

    @property
    def operation(self) -> tuple[str, str]:
        return self.method, self.path


def endpoints(schema: dict[str, Any]) -> list[Endpoint]:
    """Every operation of the document, with its request model's example, if it has one."""
    found = []
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            content = operation.get("requestBody", {}).get("content", {})
            reference = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            model = schema["components"]["schemas"].get(reference.rsplit("/", 1)[-1], {})
            examples = model.get("examples") or [None]
            params = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "path")
            fields = frozenset(model.get("properties", {}))
            found.append(Endpoint(method.upper(), path, params, examples[0], fields))
    return found


@dataclass(frozen=True)
class Probe:
    method: str
    url: str
    json: Any
    files: dict[str, Any] | None

    async def send(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        sending = client.request(
            self.method, self.url, headers=headers, json=self.json, files=self.files
        )
        return await asyncio.wait_for(sending, TIMEOUT_SECONDS)


def probe(endpoint: Endpoint, path_rows: Targets, body_rows: Targets, caller: uuid.UUID) -> Probe:
    """The operation on `path_rows`' ids, its body (the example) naming `body_rows`' rows."""
    url = endpoint.path.format(**{name: path_rows.ids[name] for name in endpoint.params})
    if endpoint.path == "/uploads":
        return Probe(endpoint.method, url, None, UPLOAD)
    body = copy.deepcopy(endpoint.body)
    if isinstance(body, dict):
        for name in [n for n in body if n.endswith(("_id", "_ids"))]:
            if name not in BODY_IDS:
                raise AssertionError(f"{endpoint.operation}: add the body field {name} to BODY_IDS")
            value = body_id(BODY_IDS[name], body_rows, caller)
            body[name] = [value] if name.endswith("_ids") else value
        for name in UNIQUE_FIELDS:
            if isinstance(body.get(name), str):
                body[name] = f"{uuid.uuid4().hex[:8]}-{body[name]}"
    return Probe(endpoint.method, url, body, None)


def body_id(kind: str, rows: Targets, caller: uuid.UUID) -> str:
    if kind == "self":
        return str(caller)
    if kind == "second_ticket":
        return str(rows.second_ticket_id)
    return str(rows.ids[kind])


def leaks(response: httpx.Response, rows: Targets, sent: Probe) -> list[str]:
    """The set's marker or ids in the answer (but the ids the request itself named)."""
    answer = response.content.decode(errors="replace") + str(response.headers)
    named = sent.url + str(sent.json)
    found = [rows.marker] if rows.marker in answer else []
    return found + [i for i in rows.id_texts if i in answer and i not in named]


async def state(sessions: Sessions, *tenants: uuid.UUID) -> dict[str, str]:
    """A digest of every table's rows of the tenants (API tokens' last use left out: using a
    token records it)."""
    digests = {}
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            column = "id" if table.name == "tenants" else "tenant_id"
            if column not in table.c:
                continue
            digest = await session.scalar(
                text(
                    f"SELECT md5(coalesce(string_agg((to_jsonb(t) - 'last_used_at')::text, '|' "  # noqa: S608  # table names from the metadata
                    f"ORDER BY (to_jsonb(t) - 'last_used_at')::text), '')) FROM {table.name} t "
                    f"WHERE {column} = ANY(:tenants)"
                ),
                {"tenants": list(tenants)},
            )
            digests[table.name] = str(digest)
    return digests


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [f"rows of {table} changed" for table in before if before[table] != after[table]]
