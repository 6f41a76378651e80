"""EXPLAIN (ANALYZE, BUFFERS) of the gateway's own inbox queries on the bench database.

Runs the gateway's query functions (inbox_db, db) for a user of the seeded
`postdesk_bench_gateway` (see bench/gateway_seed.py), records the SQL they send, and
explains every SELECT of each request kind twice (the second, warm run is printed), so
an index added by hand can be judged before it becomes a migration.

    uv run python bench/gateway_explain.py [--user 0] [--kinds list counts search ...] [--plans]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from gateway_seed import ADMIN_URL, DATABASE, user_email, with_database
from postdesk_gateway import db, inbox_db
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.inbox_db import InboxFilter
from postdesk_gateway.inbox_domain import InboxCursor
from postdesk_runtime.db import make_engine, make_sessions
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

Query = Callable[[AsyncSession, CurrentUser], Awaitable[Any]]


async def _second_page(session: AsyncSession, user: CurrentUser) -> Any:
    first = await inbox_db.list_inbox(session, user, InboxFilter(), after=None, limit=51)
    last = first[49][0] if len(first) > 50 else first[-1][0]
    after = InboxCursor("last_message_at", "desc", last.last_message_at, last.id)
    return await inbox_db.list_inbox(session, user, InboxFilter(), after=after, limit=51)


async def _view(session: AsyncSession, user: CurrentUser) -> Any:
    page = await inbox_db.list_inbox(session, user, InboxFilter(), after=None, limit=51)
    ticket = await db.get_visible_ticket(session, user, page[-1][0].id)
    assert ticket is not None
    await db.ticket_messages(session, ticket)
    await db.sla_clocks(session, ticket)


def _list(wanted: InboxFilter) -> Query:
    async def run(session: AsyncSession, user: CurrentUser) -> Any:
        return await inbox_db.list_inbox(session, user, wanted, after=None, limit=51)

    return run


KINDS: dict[str, Query] = {
    "list": _list(InboxFilter()),
    "list_assigned": _list(InboxFilter(view="assigned")),
    "list_status": _list(InboxFilter(statuses=["open", "pending"])),
    "list_next": _second_page,
    "counts": inbox_db.inbox_counts,
    "view": _view,
    "search_common": _list(InboxFilter(q="invoice")),
    "search_name": _list(InboxFilter(q="kowalski")),
    "search_order": _list(InboxFilter(q="ord-123457")),
}
# how long the statement took, from the last line of EXPLAIN ANALYZE
_EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")


async def explain(url: str, user_index: int, kinds: list[str], plans: bool) -> dict[str, Any]:
    engine = make_engine(url, pool_size=1)
    sessions = make_sessions(engine)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    raw = await asyncpg.connect(url)
    result: dict[str, Any] = {}
    try:
        user_id = await raw.fetchval(
            "SELECT id FROM users WHERE email = $1", user_email(user_index)
        )
        async with sessions() as session:
            user = await db.load_active_user(
                session,
                uuid.UUID(str(user_id)),
                await raw.fetchval("SELECT tenant_id FROM users WHERE id = $1", user_id),
            )
        assert user is not None
        for kind in kinds:
            captured.clear()
            async with sessions() as session:
                await KINDS[kind](session, user)
            statements = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
            if kind in ("list_next", "view"):
                statements = statements[1:]  # the first page only finds the cursor or ticket
            explained = []
            for statement, parameters in statements:
                values = list(parameters or ())
                sql = "EXPLAIN (ANALYZE, BUFFERS) " + statement
                await raw.fetch(sql, *values)  # cold run, not reported
                lines = [r[0] for r in await raw.fetch(sql, *values)]
                found = _EXECUTION.search(lines[-1])
                entry: dict[str, Any] = {
                    "ms": float(found.group(1)) if found else None,
                    "sql": " ".join(statement.split())[:300],
                }
                if plans:
                    entry["plan"] = lines
                explained.append(entry)
            result[kind] = explained
    finally:
        await raw.close()
        await engine.dispose()
    return {"user": user_email(user_index), "is_admin": user.is_admin, "kinds": result}


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=ADMIN_URL, help="server (its maintenance DB)")
    parser.add_argument("--name", default=DATABASE)
    parser.add_argument("--user", type=int, default=0, help="user index (0-4 are admins)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--plans", action="store_true", help="print the plans too")
    args = parser.parse_args()
    url = with_database(args.database_url, args.name)
    result = asyncio.run(explain(url, args.user, args.kinds, args.plans))
    if not args.plans:
        print(json.dumps(result, indent=2))
        return
    for kind, entries in result["kinds"].items():
        for entry in entries:
            print(f"== {kind} ({result['user']}): {entry['ms']} ms\n{entry['sql']}")
            print("\n".join(entry["plan"]))


if __name__ == "__main__":
    cli()
