"""Reading and moving the messages of the dead-letter queues `<queue>.dlq`.

A consumer queue dead-letters a message it could not handle `delivery_limit`
times (or that a service put there itself, like outbound's mail that keeps
failing) into `<queue>.dlq` (postdesk_contracts.topology).

No message taken from a dead-letter queue is ever handed back unacknowledged:
RabbitMQ 4.0 to 4.2 count every return as a delivery and drop a quorum
queue's message after 20 (the default limit; a dead-letter queue has nowhere
further to send it). So a message is always moved with a confirmed publish
first and acknowledged after: kept ones go to the tail of their own
dead-letter queue, replayed ones into their consumer queue, discarded ones are
only acknowledged. A crash between the publish and the acknowledgement
leaves the message in both places; replaying it twice is harmless, since
every consumer deduplicates on the event id. Reading every message of a queue
once leaves them in their order; reading the first few moves those to the tail.

RabbitMQ's `x-death` header is only trusted when RabbitMQ writes it, so the
first move copies its summary into `x-postdesk-death`, which travels with the
message from then on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from postdesk_contracts.topology import SUBSCRIPTIONS, QueueSpec
from postdesk_runtime.outbox import HISTORY_HEADER, REASON_HEADER

DEATH_HEADER = "x-postdesk-death"
REPLAYS_HEADER = "x-postdesk-replays"
RABBIT_DEATH_HEADERS = frozenset(
    {
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)
GET_TIMEOUT_SECONDS = 10


class Action(StrEnum):
    KEEP = "kept"
    REPLAY = "replayed"
    DISCARD = "discarded"


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, as an operator reads it."""

    queue: str
    event_id: str
    event_type: str
    tenant_id: str | None
    correlation_id: str | None
    occurred_at: str | None
    reason: str
    deaths: int
    dead_lettered_at: str | None
    replays: int
    body: bytes
    headers: Mapping[str, Any] = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "event_id": self.event_id,
            "type": self.event_type,
            "tenant_id": self.tenant_id,
            "correlation_id": self.correlation_id,
            "occurred_at": self.occurred_at,
            "reason": self.reason,
            "deaths": self.deaths,
            "dead_lettered_at": self.dead_lettered_at,
            "replays": self.replays,
        }

    def envelope(self) -> Any:
        """The body as JSON, or as text when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", "replace")


@dataclass
class Tally:
    kept: int = 0
    replayed: int = 0
    discarded: int = 0

    def add(self, action: Action) -> None:
        setattr(self, action.value, getattr(self, action.value) + 1)


def queue_spec(name: str) -> QueueSpec:
    """The consumer queue named `name` or whose dead-letter queue it names."""
    for spec in SUBSCRIPTIONS:
        if name in (spec.name, spec.dead_letter_name):
            return spec
    known = ", ".join(spec.name for spec in SUBSCRIPTIONS)
    raise LookupError(f"no queue {name!r}; the queues are: {known}")


async def open_channel(connection: aio_pika.abc.AbstractConnection) -> AbstractChannel:
    return await connection.channel(publisher_confirms=True, on_return_raises=True)


async def dead_letter_count(channel: AbstractChannel, spec: QueueSpec) -> int:
    """Messages waiting in `spec`'s dead-letter queue (declared as the services declare it)."""
    queue = await channel.declare_queue(
        spec.dead_letter_name, durable=True, arguments={"x-queue-type": "quorum"}
    )
    count = queue.declaration_result.message_count
    return int(count or 0)


def read(spec: QueueSpec, message: AbstractIncomingMessage) -> DeadLetter:
    headers: dict[str, Any] = dict(message.headers or {})
    death = _death(headers)
    envelope = _json_object(message.body)
    return DeadLetter(
        queue=spec.name,
        event_id=str(message.message_id or envelope.get("id") or ""),
        event_type=str(envelope.get("type") or spec.event.value),
        tenant_id=_text(envelope.get("tenant_id")),
        correlation_id=_text(envelope.get("correlation_id") or message.correlation_id),
        occurred_at=_text(envelope.get("occurred_at")),
        reason=str(death.get("reason") or ""),
        deaths=int(death.get("count") or 0),
        dead_lettered_at=_text(death.get("time")),
        replays=_count(headers.get(REPLAYS_HEADER)),
        body=message.body,
        headers=headers,
    )


Visit = Callable[[DeadLetter], Awaitable[Action]]


async def walk(
    channel: AbstractChannel, spec: QueueSpec, visit: Visit, *, limit: int | None = None
) -> Tally:
    """Take each message waiting in the dead-letter queue now (the first `limit` of them),
    once, and do what `visit` says."""
    waiting = await dead_letter_count(channel, spec)
    queue = await channel.get_queue(spec.dead_letter_name, ensure=False)
    tally = Tally()
    for _ in range(waiting if limit is None else min(waiting, limit)):
        message = await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_SECONDS)
        if message is None:
            break  # another operator took the rest
        letter = read(spec, message)
        action = await visit(letter)
        if action is Action.KEEP:
            await _publish(channel, message, spec.dead_letter_name, _moved_headers(letter))
        elif action is Action.REPLAY:
            headers = _moved_headers(letter) | {REPLAYS_HEADER: letter.replays + 1}
            await _publish(channel, message, spec.name, headers)
        await message.ack()
        tally.add(action)
    return tally


def _moved_headers(letter: DeadLetter) -> dict[str, Any]:
    headers = {k: v for k, v in letter.headers.items() if k not in RABBIT_DEATH_HEADERS}
    return headers | {
        DEATH_HEADER: json.dumps(
            {"reason": letter.reason, "count": letter.deaths, "time": letter.dead_lettered_at}
        )
    }


async def _publish(
    channel: AbstractChannel,
    original: AbstractIncomingMessage,
    queue: str,
    headers: dict[str, Any],
) -> None:
    """Publish a copy of `original` straight into `queue` and wait for the broker's confirm."""
    copy = aio_pika.Message(
        original.body,
        headers=headers,
        content_type=original.content_type,
        content_encoding=original.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        correlation_id=original.correlation_id,
        message_id=original.message_id,
        timestamp=original.timestamp,
        type=original.type,
        app_id=original.app_id,
    )
    await channel.default_exchange.publish(copy, routing_key=queue, mandatory=True)


def _death(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Why and when the message was dead-lettered, from RabbitMQ's header or ours."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        latest = deaths[0]  # RabbitMQ puts the most recent death first
        time = latest.get("time")
        return {
            "reason": _decoded(latest.get("reason")),
            "count": sum(int(d.get("count") or 0) for d in deaths if isinstance(d, Mapping)),
            "time": time.isoformat() if isinstance(time, datetime) else _text(time),
        }
    if isinstance(ours := headers.get(DEATH_HEADER), str | bytes):
        return _json_object(ours)
    if REASON_HEADER in headers:  # put there by a service itself (outbound, ADR 9)
        return {"reason": f"service: {_decoded(headers[REASON_HEADER])}", "count": 1}
    return {}


def history(letter: DeadLetter) -> Any:
    """The attempts a service recorded with the message (outbound's SMTP answers), if any."""
    raw = letter.headers.get(HISTORY_HEADER)
    if raw is None:
        return None
    try:
        return json.loads(_decoded(raw))
    except ValueError:
        return _decoded(raw)


def _json_object(data: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _decoded(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _text(value: Any) -> str | None:
    return None if value is None else _decoded(value)
