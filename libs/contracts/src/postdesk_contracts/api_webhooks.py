"""Schemas of the gateway's webhook admin API (subscriptions, their deliveries, the tenant's
private-target setting), shared with its clients. API models only, like `api`.

A subscription's signing secret appears in exactly two answers: the one that
creates the subscription and the one that rotates its secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from pydantic import Field, field_validator

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel
from postdesk_contracts.topology import WEBHOOK_EVENTS

MAX_WEBHOOK_URL_CHARS: Final = 2048
MAX_WEBHOOK_DESCRIPTION_CHARS: Final = 500
PING_EVENT_TYPE: Final = "webhook.ping"
_EVENT_TYPES: Final = tuple(event.value for event in WEBHOOK_EVENTS)
_SECRET: Final = "q8VdK2xN7bLm4TzR9cWf1HsJ6gYp3EaU0oQiBkXnZtM"  # noqa: S105  # an example


def _known_event_types(value: list[str]) -> list[str]:
    unknown = [item for item in value if item not in _EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"not webhook event types: {', '.join(unknown)}; use {', '.join(_EVENT_TYPES)}"
        )
    return list(dict.fromkeys(value))


class WebhookSubscriptionCreate(ApiModel):
    """A receiver of signed POSTs. `url` (http or https) must reach a public address unless
    the tenant allows private targets; `event_types` are among the webhook event types."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config(
            {
                "url": "https://hooks.acme.example/postdesk",
                "description": "CRM sync",
                "event_types": ["ticket.created", "ticket.updated", "mail.sent"],
                "is_active": True,
            }
        )
    )

    url: str = Field(min_length=1, max_length=MAX_WEBHOOK_URL_CHARS)
    description: str = Field(default="", max_length=MAX_WEBHOOK_DESCRIPTION_CHARS)
    event_types: list[str] = Field(min_length=1, max_length=len(_EVENT_TYPES))
    is_active: bool = True

    @field_validator("event_types")
    @classmethod
    def _event_types(cls, value: list[str]) -> list[str]:
        return _known_event_types(value)


class WebhookSubscriptionUpdate(ApiModel):
    """Changes to a subscription; omitted fields stay as they are."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config(
            {"event_types": ["ticket.created", "ticket.assigned"], "is_active": False}
        )
    )

    url: str | None = Field(default=None, min_length=1, max_length=MAX_WEBHOOK_URL_CHARS)
    description: str | None = Field(default=None, max_length=MAX_WEBHOOK_DESCRIPTION_CHARS)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=len(_EVENT_TYPES))
    is_active: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _event_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known_event_types(value)


class WebhookSubscriptionView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "0d1e2f3a-4b5c-4d6e-9f8a-9b0c1d2e3f4a",
            "url": "https://hooks.acme.example/postdesk",
            "description": "CRM sync",
            "event_types": ["ticket.created", "ticket.updated", "mail.sent"],
            "is_active": True,
            "created_by": ex.ADMIN_ID,
            "created_at": "2026-11-03T11:05:00Z",
            "updated_at": "2026-11-03T11:05:00Z",
        }
    )

    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    is_active: bool
    created_by: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


class WebhookSubscriptionCreated(WebhookSubscriptionView):
    model_config = ex.example_config(ex.example_of(WebhookSubscriptionView) | {"secret": _SECRET})

    secret: str = Field(
        description="the HMAC-SHA256 key of the Postdesk-Signature header; shown only now"
    )


class WebhookSubscriptionList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(WebhookSubscriptionView)]})

    items: list[WebhookSubscriptionView] = Field(description="newest first")


class WebhookSecret(ApiModel):
    model_config = ex.example_config(
        {"subscription_id": "0d1e2f3a-4b5c-4d6e-9f8a-9b0c1d2e3f4a", "secret": _SECRET}
    )

    subscription_id: uuid.UUID
    secret: str = Field(description="the new signing secret; shown only now")


class WebhookDeliveryView(ApiModel):
    """One event for one subscription. status: pending, retrying (due again at
    `next_attempt_at`), delivering, delivered, failed. `attempt_log` holds the last 20
    attempts: `at`, `status` (the receiver's) or `error`, `duration_ms`."""

    model_config = ex.example_config(
        {
            "id": "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5c",
            "subscription_id": "0d1e2f3a-4b5c-4d6e-9f8a-9b0c1d2e3f4a",
            "event_id": ex.EVENT_ID,
            "event_type": "ticket.created",
            "status": "delivered",
            "attempts": 2,
            "next_attempt_at": None,
            "last_attempt_at": "2026-11-24T08:15:40Z",
            "response_status": 200,
            "last_error": "",
            "attempt_log": [
                {"at": "2026-11-24T08:15:05Z", "error": "connect timeout", "duration_ms": 10000},
                {"at": "2026-11-24T08:15:40Z", "status": 200, "duration_ms": 84},
            ],
            "delivered_at": "2026-11-24T08:15:40Z",
            "created_at": "2026-11-24T08:15:04Z",
            "payload": {
                "id": ex.EVENT_ID,
                "type": "ticket.created",
                "version": 1,
                "occurred_at": "2026-11-24T08:15:03Z",
                "tenant_id": ex.TENANT_ID,
                "correlation_id": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6f",
                "causation_id": None,
                "payload": {
                    "ticket_id": ex.TICKET_ID,
                    "number": ex.TICKET_NUMBER,
                    "account_id": ex.SUPPORT_ACCOUNT_ID,
                    "department_id": ex.DEPARTMENT_ID,
                    "subject": "Invoice 2026-11 charged twice",
                    "customer_email": ex.CUSTOMER_EMAIL,
                    "first_message_id": ex.MESSAGE_ID,
                    "priority": "normal",
                },
            },
        }
    )

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = Field(
        default=None, description="when it is tried next; None once delivered or failed"
    )
    last_attempt_at: datetime | None = None
    response_status: int | None = None
    last_error: str = ""
    attempt_log: list[dict[str, Any]] = Field(default_factory=list)
    delivered_at: datetime | None = None
    created_at: datetime
    payload: dict[str, Any] = Field(description="the envelope as POSTed")


class WebhookDeliveryList(ApiModel):
    model_config = ex.example_config(
        {"items": [ex.example_of(WebhookDeliveryView)], "next_cursor": None}
    )

    items: list[WebhookDeliveryView] = Field(description="newest first")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; None on the last page"
    )


class WebhookSettings(ApiModel):
    model_config = ex.example_config({"allow_private_targets": False})

    allow_private_targets: bool = Field(
        description="whether webhook URLs may reach private, loopback and shared (CGNAT) "
        "addresses: for receivers on the tenant's own network"
    )


class WebhookSettingsUpdate(WebhookSettings):
    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"allow_private_targets": True})
    )
