"""Test support: isolated infrastructure per test run and factories for events and rows."""

from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

__all__ = ["IsolatedAmqp", "IsolatedDatabase"]
