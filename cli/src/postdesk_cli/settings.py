"""Settings of the `postdesk` command: the services' shared ones plus the CLI's own."""

from __future__ import annotations

from postdesk_runtime.settings import ServiceSettings
from pydantic import Field

from postdesk_cli.inbound_rules import DEFAULT_INBOUND_DOMAIN


class CliSettings(ServiceSettings):
    inbound_domain: str = Field(
        default=DEFAULT_INBOUND_DOMAIN,
        description="the shared domain of generated inbound addresses (postdesk inbound, demo)",
    )
