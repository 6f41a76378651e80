"""The gateway's OpenAPI document, as the web console's typed client is generated from it."""

from __future__ import annotations

import json
from typing import Any

from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings


def openapi_document() -> dict[str, Any]:
    """The document the gateway serves at /schema/openapi.json; nothing connects."""
    document: dict[str, Any] = create_app(GatewaySettings()).openapi_schema.to_schema()
    return document


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
