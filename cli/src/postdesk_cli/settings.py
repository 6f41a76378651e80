"""Settings of the `postdesk` command: the services' shared ones plus the CLI's own."""

from __future__ import annotations

from postdesk_runtime.settings import ServiceSettings

from postdesk_cli.inbound_rules import DEFAULT_INBOUND_DOMAIN


class CliSettings(ServiceSettings):
    # the shared domain of generated inbound addresses (env INBOUND_DOMAIN)
    inbound_domain: str = DEFAULT_INBOUND_DOMAIN
