"""What a user wants to hear about, and where: users.notification_preferences.

Stored as `{"<kind>": {"in_app": bool, "email": bool}}`; a kind or channel
left out takes its default below. The gateway validates what a user saves
(`validate_preferences`); the notifier asks `wants` for every recipient.
The daily digest is email only and opt-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class NotificationKind(StrEnum):
    NEW_TICKET = "new_ticket"
    CUSTOMER_REPLY = "customer_reply"
    MENTION = "mention"
    ASSIGNED = "assigned"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    DIGEST = "digest"


class NotificationChannel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


DEFAULTS: dict[NotificationKind, dict[NotificationChannel, bool]] = {
    NotificationKind.NEW_TICKET: {
        NotificationChannel.IN_APP: True,
        NotificationChannel.EMAIL: False,
    },
    NotificationKind.CUSTOMER_REPLY: {
        NotificationChannel.IN_APP: True,
        NotificationChannel.EMAIL: False,
    },
    NotificationKind.MENTION: {NotificationChannel.IN_APP: True, NotificationChannel.EMAIL: True},
    NotificationKind.ASSIGNED: {NotificationChannel.IN_APP: True, NotificationChannel.EMAIL: True},
    NotificationKind.SLA_WARNING: {
        NotificationChannel.IN_APP: True,
        NotificationChannel.EMAIL: False,
    },
    NotificationKind.SLA_BREACHED: {
        NotificationChannel.IN_APP: True,
        NotificationChannel.EMAIL: True,
    },
    NotificationKind.DIGEST: {NotificationChannel.IN_APP: False, NotificationChannel.EMAIL: False},
}

EMAIL_ONLY = frozenset({NotificationKind.DIGEST})


class PreferencesError(ValueError):
    """A preferences document names an unknown kind or channel, or a value that is not a
    boolean."""


def validate_preferences(value: Any) -> dict[str, dict[str, bool]]:
    """The stored form of `value`, or PreferencesError saying what is wrong with it."""
    if not isinstance(value, Mapping):
        raise PreferencesError("preferences must be an object of kinds")
    kinds = {k.value for k in NotificationKind}
    channels = {c.value for c in NotificationChannel}
    stored: dict[str, dict[str, bool]] = {}
    for kind, per_channel in value.items():
        if kind not in kinds:
            raise PreferencesError(f"unknown notification kind {kind!r}")
        if not isinstance(per_channel, Mapping):
            raise PreferencesError(f"{kind}: must be an object of channels")
        for channel, wanted in per_channel.items():
            if channel not in channels:
                raise PreferencesError(f"{kind}: unknown channel {channel!r}")
            if not isinstance(wanted, bool):
                raise PreferencesError(f"{kind}.{channel}: must be true or false")
            if wanted and channel == NotificationChannel.IN_APP and kind in EMAIL_ONLY:
                raise PreferencesError(f"{kind} is sent by email only")
        stored[kind] = {channel: bool(wanted) for channel, wanted in per_channel.items()}
    return stored


def wants(preferences: Mapping[str, Any], kind: str, channel: str) -> bool:
    """Whether a user with these stored preferences wants `kind` on `channel`."""
    chosen = preferences.get(kind)
    if isinstance(chosen, Mapping) and isinstance(chosen.get(channel), bool):
        return bool(chosen[channel])
    return DEFAULTS[NotificationKind(kind)][NotificationChannel(channel)]


def effective_preferences(preferences: Mapping[str, Any]) -> dict[str, dict[str, bool]]:
    """Every kind and channel with what applies to this user (stored or default)."""
    return {
        kind.value: {
            channel.value: wants(preferences, kind, channel) for channel in NotificationChannel
        }
        for kind in NotificationKind
    }
