"""Schemas of the ticket view's live updates: presence (who else is viewing or replying)
and the `ticket` events of its stream; and `TicketChangeNotice`, the `pg_notify` payload
by which the services that change a ticket tell the gateways' streams."""

from __future__ import annotations

import uuid
from typing import Final, Literal

from pydantic import Field

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel

TICKET_EVENTS_CHANNEL: Final = "postdesk_ticket_events"

PresenceState = Literal["viewing", "replying", "left"]
ActivePresenceState = Literal["viewing", "replying"]


class PresenceRequest(ApiModel):
    """What the caller is doing on the ticket; repeat it every ~20 seconds while it lasts."""

    model_config = ex.example_config({"state": "replying"})

    state: PresenceState = Field(
        description="viewing or replying (a heartbeat: it lapses unless repeated), or left"
    )


class PresentUser(ApiModel):
    model_config = ex.example_config(
        {"user_id": ex.COLLEAGUE_ID, "name": "Ben Okafor", "state": "viewing"}
    )

    user_id: uuid.UUID
    name: str
    state: ActivePresenceState


class TicketPresence(ApiModel):
    """Data of a `presence` event: the other users on the ticket now (never you)."""

    model_config = ex.example_config(
        {"ticket_id": ex.TICKET_ID, "users": [ex.example_of(PresentUser)]}
    )

    ticket_id: uuid.UUID
    users: list[PresentUser]


class TicketChanged(ApiModel):
    """Data of a `ticket` event: the ticket changed; read it again for the new state."""

    model_config = ex.example_config(
        {"ticket_id": ex.TICKET_ID, "changes": ["updated", "note_added"]}
    )

    ticket_id: uuid.UUID
    changes: list[str] = Field(
        description="what happened since the last event: updated, deleted, merged, "
        "note_added, reply_requested, message_added"
    )


class TicketChangeNotice(ApiModel):
    """Sent with `pg_notify(TICKET_EVENTS_CHANNEL, ...)` in the transaction that changes a
    ticket, so the gateways hear of it on commit. `change` names what happened."""

    model_config = ex.example_config(
        {
            "kind": "ticket",
            "tenant_id": ex.TENANT_ID,
            "ticket_id": ex.TICKET_ID,
            "change": "note_added",
        }
    )

    kind: Literal["ticket"] = "ticket"
    tenant_id: uuid.UUID
    ticket_id: uuid.UUID
    change: str
