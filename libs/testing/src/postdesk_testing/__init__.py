"""Test support: isolated infrastructure per test run, factories, and waiting on the broker."""

from postdesk_testing.amqp import drain, tap
from postdesk_testing.asgi import asgi_client, started
from postdesk_testing.command import Ran, run_postdesk
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase
from postdesk_testing.scrape import sample_value
from postdesk_testing.waiting import eventually

__all__ = [
    "IsolatedAmqp",
    "IsolatedDatabase",
    "Ran",
    "asgi_client",
    "drain",
    "eventually",
    "run_postdesk",
    "sample_value",
    "started",
    "tap",
]
