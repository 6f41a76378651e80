"""The services `postdesk up` runs, and their default HTTP ports."""

from __future__ import annotations

SERVICE_PORTS: dict[str, int] = {
    "gateway": 8000,
    "ingest": 8001,
    "parser": 8002,
    "router": 8003,
    "notifier": 8004,
    "outbound": 8005,
}
SERVICES = tuple(SERVICE_PORTS)
# The development mail sink `postdesk up` starts beside them (postdesk_outbound.mailsink):
# its page on this port, SMTP on MAILSINK_SMTP_PORT.
MAILSINK = "mailsink"
MAILSINK_PORT = 8025
MAILSINK_SMTP_PORT = 2525


def ports_from(base_port: int) -> dict[str, int]:
    """Consecutive ports from `base_port`, in the order of SERVICES."""
    return {name: base_port + offset for offset, name in enumerate(SERVICES)}
