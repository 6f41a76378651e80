"""The AsyncAPI document of every service's events, from the FastStream brokers themselves."""

from __future__ import annotations

import json
from typing import Any

from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from postdesk_gateway.main import create_app as gateway_app
from postdesk_gateway.settings import GatewaySettings
from postdesk_ingest.main import create_app as ingest_app
from postdesk_ingest.settings import IngestSettings
from postdesk_notifier.main import create_app as notifier_app
from postdesk_notifier.settings import NotifierSettings
from postdesk_outbound.main import create_app as outbound_app
from postdesk_outbound.settings import OutboundSettings
from postdesk_parser.main import create_app as parser_app
from postdesk_parser.settings import ParserSettings
from postdesk_router.main import create_app as router_app
from postdesk_router.settings import RouterSettings


def _broker_of(app: Any) -> RabbitBroker:
    broker = app.broker if hasattr(app, "broker") else app.state["broker"]
    assert isinstance(broker, RabbitBroker)
    return broker


def service_brokers() -> list[RabbitBroker]:
    """Each service's broker with its subscribers and documented publishers; nothing connects."""
    apps = [
        ingest_app(IngestSettings()),
        parser_app(ParserSettings()),
        router_app(RouterSettings()),
        notifier_app(NotifierSettings()),
        outbound_app(OutboundSettings()),
        gateway_app(GatewaySettings()),
    ]
    return [_broker_of(app) for app in apps]


def asyncapi_document() -> dict[str, Any]:
    spec = AsyncAPI(
        *service_brokers(),
        title="postdesk events",
        version="1",
        description=(
            "Events on the durable topic exchange postdesk.events; the routing key is the "
            "event type. Every message is an Envelope (id, type, version, occurred_at, "
            "tenant_id, correlation_id, causation_id, payload). Bind a durable queue of "
            "your own to subscribe."
        ),
        schema_version="3.0.0",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document


def render() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"
