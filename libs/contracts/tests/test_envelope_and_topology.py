"""The envelope's invariants and the topology's arguments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from postdesk_contracts import Envelope, EventType, MailReceived, TicketAssigned, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import PAYLOADS, Channel
from postdesk_contracts.topology import SUBSCRIPTIONS, queue_for


def received() -> Envelope[MailReceived]:
    payload = MailReceived(
        raw_blob_ref="sha256:" + "a" * 64,
        sha256="a" * 64,
        size=10,
        channel=Channel.WEBHOOK,
        received_at=datetime.now(UTC),
    )
    return new_envelope(EventType.MAIL_RECEIVED, payload)


def test_first_event_correlates_to_itself() -> None:
    """An event with no cause is the start of its flow."""
    envelope = received()
    assert envelope.correlation_id == envelope.id
    assert envelope.causation_id is None


def test_caused_event_inherits_correlation_and_tenant() -> None:
    """An event caused by another carries its correlation id and, unless given, its tenant."""
    cause = received()
    tenant = uuid.uuid4()
    assigned = TicketAssigned(
        ticket_id=uuid.uuid4(), account_id=uuid.uuid4(), assignee_id=uuid.uuid4(), rule="primary"
    )
    effect = new_envelope(EventType.TICKET_ASSIGNED, assigned, tenant_id=tenant, caused_by=cause)
    assert effect.correlation_id == cause.id
    assert effect.causation_id == cause.id
    assert effect.tenant_id == tenant


def test_envelope_round_trips_with_payload_fields_and_ignores_unknown() -> None:
    """Serialised envelopes keep the payload's own fields; unknown fields from newer producers are ignored."""
    envelope = received()
    data = envelope.model_dump(mode="json")
    data["payload"]["added_in_a_later_version"] = 1
    data["also_new"] = "x"
    back = Envelope[MailReceived].model_validate(data)
    assert back == envelope
    assert back.payload.sha256 == "a" * 64


def test_derived_ids_are_stable_and_distinct() -> None:
    """A redelivered cause derives the same effect id; different effects differ."""
    cause = uuid.uuid4()
    assert derived_event_id(cause, "mail.parsed") == derived_event_id(cause, "mail.parsed")
    assert derived_event_id(cause, "mail.parsed") != derived_event_id(cause, "mail.rejected")


def test_every_event_type_has_a_payload_model() -> None:
    """Each routing key maps to exactly one payload model."""
    assert set(PAYLOADS) == set(EventType)


def test_queues_dead_letter_and_limit_deliveries() -> None:
    """Every consumer queue is quorum, delivery-limited and dead-letters at least once."""
    for spec in SUBSCRIPTIONS:
        arguments = spec.arguments()
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-delivery-limit"] >= 1
        assert arguments["x-dead-letter-exchange"]
        assert arguments["x-dead-letter-strategy"] == "at-least-once"
        assert arguments["x-overflow"] == "reject-publish"
    assert queue_for("parser", EventType.MAIL_RECEIVED).name == "parser.mail.received"
