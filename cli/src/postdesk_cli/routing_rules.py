"""Rules for the router's settings of mailboxes, departments and people.

Plain async functions over a session factory (`Sessions`), so the admin API
can apply the same rules later; the `postdesk account|department|user`
commands call them. Every refusal raises `SettingsError` with a message
meant for the user, and nothing is written.

Invariants kept here (what is stored is what the router can use):
- working hours pass the router's own parser
  (`postdesk_contracts.schedule.Schedule.parse`) in the timezone stored with
  them; an empty mapping means always working; timezones are IANA names;
- enumerated settings take only the router's values: auto_reply_schedule
  always|outside_hours, reopen_policy reopen|follow_up, routing_strategy
  primary|round_robin|least_open|priority;
- numbers stay within bounds the router's arithmetic and the int columns
  hold; subject_match_days and reassign_after_minutes are a positive number
  or None (off); auto_reply_window_minutes 0 turns the window off;
- an account with auto-reply on has a message, a reply (message and
  signature) within the outbound request's size limit, and, with schedule
  outside_hours, working hours: without them the router counts the account
  as always open and it would never auto-reply;
- a change checks every field before it writes any and writes them in one
  transaction, with the account row locked, so two changes never interleave.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from postdesk_contracts.schedule import Schedule, ScheduleError
from postdesk_router.assignment import Strategy
from postdesk_router.autoreply import MAX_TEXT_CHARS, ReplySchedule, reply_text
from postdesk_runtime.db import Sessions
from postdesk_schema import Department, EmailAccount, Tenant, User
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

MAX_MINUTES: Final = 525_600  # one year, for every "minutes" setting
MAX_SUBJECT_MATCH_DAYS: Final = 3_650
MAX_SUBJECT_CHARS: Final = 255
REOPEN_POLICIES: Final = ("reopen", "follow_up")
AUTO_REPLY_SCHEDULES: Final = tuple(s.value for s in ReplySchedule)
ROUTING_STRATEGIES: Final = tuple(s.value for s in Strategy)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SettingsError(ValueError):
    """A setting the rules refuse; str(error) says why, for the user."""


class Unset(enum.Enum):
    """Marks a setting a change leaves as it is (None is a value: "off")."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


def check_timezone(name: str) -> str:
    """An IANA timezone name the router's schedules accept, stripped."""
    zone = name.strip()
    if not zone:
        raise SettingsError("timezone is empty (use an IANA name such as Europe/Berlin)")
    try:
        Schedule.parse({}, zone)
    except ScheduleError as error:
        raise SettingsError(f"{error} (use an IANA name such as Europe/Berlin)") from error
    return zone


def check_working_hours(
    hours: object, timezone: str, holidays: Iterable[str] = ()
) -> dict[str, Any]:
    """Working hours as the router parses them; a copy of the mapping to store."""
    if not isinstance(hours, Mapping) or not all(isinstance(k, str) for k in hours):
        raise SettingsError(
            'working hours must be a JSON object of days, e.g. {"mon": [["09:00", "17:00"]]}'
        )
    try:
        Schedule.parse(hours, timezone, holidays)
    except ScheduleError as error:
        raise SettingsError(f"working hours: {error}") from error
    return dict(hours)


def check_number(name: str, value: object, low: int, high: int) -> int:
    """`value` as an int within low..high."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _check_optional_number(name: str, value: object, high: int) -> int | None:
    return None if value is None else check_number(name, value, 1, high)


def _check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be text")
    if "\x00" in value:
        raise SettingsError(f"{name} contains a NUL character")
    return value


def _check_subject(value: object) -> str:
    subject = _check_text("auto_reply_subject", value).strip()
    if _CONTROL.search(subject):
        raise SettingsError("auto_reply_subject must be one line without control characters")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise SettingsError(f"auto_reply_subject is longer than {MAX_SUBJECT_CHARS} characters")
    return subject


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be on or off")
    return value


@dataclass(frozen=True)
class AccountSettings:
    """An account's routing settings (email_accounts), with where it belongs."""

    address: str
    tenant_slug: str
    display_name: str
    kind: str
    is_active: bool
    department: str | None
    routing_strategy: str | None
    auto_reply_enabled: bool
    auto_reply_message: str
    auto_reply_subject: str
    auto_reply_schedule: str
    auto_reply_window_minutes: int
    signature: str
    timezone: str
    working_hours: dict[str, Any]
    reopen_policy: str
    subject_match_days: int | None
    reassign_after_minutes: int | None


@dataclass(frozen=True)
class AccountChanges:
    """The settings a change sets; UNSET ones stay. None turns the optional numbers off."""

    auto_reply_enabled: bool | Unset = UNSET
    auto_reply_message: str | Unset = UNSET
    auto_reply_subject: str | Unset = UNSET
    auto_reply_schedule: str | Unset = UNSET
    auto_reply_window_minutes: int | Unset = UNSET
    signature: str | Unset = UNSET
    timezone: str | Unset = UNSET
    working_hours: Mapping[str, Any] | Unset = UNSET
    reopen_policy: str | Unset = UNSET
    subject_match_days: int | Unset | None = UNSET
    reassign_after_minutes: int | Unset | None = UNSET

    def given(self) -> dict[str, object]:
        """The settings this change sets, by column name."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if value is not UNSET}


# settings whose change may leave an auto-replying account unable to reply
_AUTO_REPLY_INPUTS = frozenset(
    {
        "auto_reply_enabled",
        "auto_reply_message",
        "signature",
        "auto_reply_schedule",
        "working_hours",
    }
)


def _check_field(name: str, value: object, timezone: str) -> object:
    """One setting checked alone (working hours in `timezone`, the one they will have)."""
    if name == "auto_reply_enabled":
        return _check_bool(name, value)
    if name in ("auto_reply_message", "signature"):
        return _check_text(name, value)
    if name == "auto_reply_subject":
        return _check_subject(value)
    if name == "auto_reply_schedule":
        return _check_choice(name, value, AUTO_REPLY_SCHEDULES)
    if name == "auto_reply_window_minutes":
        return check_number(name, value, 0, MAX_MINUTES)
    if name == "timezone":
        return check_timezone(_check_text(name, value))
    if name == "working_hours":
        return check_working_hours(value, timezone)
    if name == "reopen_policy":
        return _check_choice(name, value, REOPEN_POLICIES)
    if name == "subject_match_days":
        return _check_optional_number(name, value, MAX_SUBJECT_MATCH_DAYS)
    if name == "reassign_after_minutes":
        return _check_optional_number(name, value, MAX_MINUTES)
    raise SettingsError(f"unknown account setting {name!r}")


def check_account_changes(
    current: AccountSettings, changes: AccountChanges
) -> tuple[AccountSettings, dict[str, object]]:
    """The settings after `changes` and the checked values to write; SettingsError if any
    value, or the result as a whole, is refused."""
    given = changes.given()
    if not given:
        raise SettingsError("nothing to change: give at least one setting")
    checked: dict[str, object] = {}
    if "timezone" in given:  # first: working hours are checked in the zone they will have
        checked["timezone"] = _check_field("timezone", given["timezone"], "")
    timezone = str(checked.get("timezone", current.timezone))
    for name, value in given.items():
        if name not in checked:
            checked[name] = _check_field(name, value, timezone)
    after = dataclasses.replace(current, **checked)  # type: ignore[arg-type]
    if after.auto_reply_enabled and _AUTO_REPLY_INPUTS & set(given):
        _check_auto_reply(after)
    return after, checked


def _check_auto_reply(settings: AccountSettings) -> None:
    """An account that auto-replies must be able to (see the module docstring)."""
    if not settings.auto_reply_message.strip():
        raise SettingsError("auto-reply is on but auto_reply_message is empty")
    if len(reply_text(settings.auto_reply_message, settings.signature)) > MAX_TEXT_CHARS:
        raise SettingsError(
            f"the auto-reply (message and signature) is longer than {MAX_TEXT_CHARS} characters"
        )
    if settings.auto_reply_schedule == ReplySchedule.OUTSIDE_HOURS:
        if not settings.working_hours:
            raise SettingsError(
                "auto-reply outside_hours needs the account's working_hours: without them"
                " the account is always open and never auto-replies"
            )
        check_working_hours(settings.working_hours, settings.timezone)


def _normalise_address(address: str) -> str:
    return address.strip().removeprefix("<").removesuffix(">").strip().lower()


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = (
        await session.scalars(select(Tenant).where(col(Tenant.slug) == slug.strip().lower()))
    ).first()
    if tenant is None:
        raise SettingsError(f"no tenant with slug {slug!r}")
    return tenant


async def account_by_address(
    session: AsyncSession, address: str, *, lock: bool = False
) -> EmailAccount:
    """The account with this address (any state); locked until commit when `lock`."""
    wanted = _normalise_address(address)
    query = select(EmailAccount).where(col(EmailAccount.address) == wanted)
    account = (await session.scalars(query.with_for_update() if lock else query)).first()
    if account is None:
        raise SettingsError(f"no email account {wanted}")
    return account


async def department_by_name(session: AsyncSession, tenant: Tenant, name: str) -> Department:
    """The tenant's department called `name`: exactly, else the one matching without case."""
    rows = (
        await session.scalars(
            select(Department)
            .where(col(Department.tenant_id) == tenant.id)
            .order_by(col(Department.name))
        )
    ).all()
    wanted = name.strip()
    exact = [d for d in rows if d.name == wanted]
    loose = [d for d in rows if d.name.casefold() == wanted.casefold()]
    if exact or len(loose) == 1:
        return (exact or loose)[0]
    known = ", ".join(repr(d.name) for d in rows) or "none"
    raise SettingsError(f"tenant {tenant.slug} has no department {wanted!r} (it has: {known})")


async def _account_settings(session: AsyncSession, account: EmailAccount) -> AccountSettings:
    tenant = await session.get_one(Tenant, account.tenant_id)
    department = (
        await session.get(Department, account.department_id) if account.department_id else None
    )
    return AccountSettings(
        address=account.address,
        tenant_slug=tenant.slug,
        display_name=account.display_name,
        kind=str(account.kind),
        is_active=account.is_active,
        department=department.name if department else None,
        routing_strategy=department.routing_strategy if department else None,
        auto_reply_enabled=account.auto_reply_enabled,
        auto_reply_message=account.auto_reply_message,
        auto_reply_subject=account.auto_reply_subject,
        auto_reply_schedule=account.auto_reply_schedule,
        auto_reply_window_minutes=account.auto_reply_window_minutes,
        signature=account.signature,
        timezone=account.timezone,
        working_hours=dict(account.working_hours or {}),
        reopen_policy=account.reopen_policy,
        subject_match_days=account.subject_match_days,
        reassign_after_minutes=account.reassign_after_minutes,
    )


async def show_account(sessions: Sessions, address: str) -> AccountSettings:
    """The account's settings as stored."""
    async with sessions() as session:
        return await _account_settings(session, await account_by_address(session, address))


async def update_account(
    sessions: Sessions, address: str, changes: AccountChanges
) -> tuple[AccountSettings, AccountSettings]:
    """Apply `changes` to the account in one transaction; the settings before and after."""
    async with sessions() as session, session.begin():
        account = await account_by_address(session, address, lock=True)
        before = await _account_settings(session, account)
        after, checked = check_account_changes(before, changes)
        for name, value in checked.items():
            setattr(account, name, value)
        await session.flush()
        return before, after


@dataclass(frozen=True)
class DepartmentView:
    tenant_slug: str
    name: str
    routing_strategy: str
    accounts: tuple[str, ...]  # addresses of the department's accounts


async def _department_view(
    session: AsyncSession, tenant: Tenant, department: Department
) -> DepartmentView:
    accounts = await session.scalars(
        select(col(EmailAccount.address))
        .where(col(EmailAccount.department_id) == department.id)
        .order_by(col(EmailAccount.address))
    )
    return DepartmentView(
        tenant.slug, department.name, department.routing_strategy, tuple(accounts.all())
    )


async def list_departments(sessions: Sessions, tenant_slug: str) -> list[DepartmentView]:
    """The tenant's departments by name, with their strategy and accounts."""
    async with sessions() as session:
        tenant = await tenant_by_slug(session, tenant_slug)
        departments = await session.scalars(
            select(Department)
            .where(col(Department.tenant_id) == tenant.id)
            .order_by(col(Department.name))
        )
        return [await _department_view(session, tenant, d) for d in departments.all()]


async def set_department_routing(
    sessions: Sessions, tenant_slug: str, name: str, strategy: str
) -> tuple[str, DepartmentView]:
    """Set how the department spreads new tickets of its accounts; the strategy it had and
    the department now. The round-robin pointer stays: round robin resumes where it was."""
    checked = _check_choice("routing_strategy", strategy, ROUTING_STRATEGIES)
    async with sessions() as session, session.begin():
        tenant = await tenant_by_slug(session, tenant_slug)
        department = await department_by_name(session, tenant, name)
        await session.refresh(department, with_for_update=True)
        before = department.routing_strategy
        department.routing_strategy = checked
        await session.flush()
        return before, await _department_view(session, tenant, department)


@dataclass(frozen=True)
class UserHours:
    email: str
    tenant_slug: str
    full_name: str
    is_active: bool
    timezone: str
    working_hours: dict[str, Any]


async def _user(session: AsyncSession, email: str, *, lock: bool = False) -> User:
    wanted = _normalise_address(email)
    query = select(User).where(col(User.email) == wanted)  # logins are stored lower-cased
    user = (await session.scalars(query.with_for_update() if lock else query)).first()
    if user is None:
        raise SettingsError(f"no user with login {wanted}")
    return user


async def _user_hours(session: AsyncSession, user: User) -> UserHours:
    tenant = await session.get_one(Tenant, user.tenant_id)
    return UserHours(
        user.email,
        tenant.slug,
        user.full_name,
        user.is_active,
        user.timezone,
        dict(user.working_hours or {}),
    )


async def user_hours(sessions: Sessions, email: str) -> UserHours:
    """The user's timezone and working hours as stored."""
    async with sessions() as session:
        return await _user_hours(session, await _user(session, email))


async def set_user_hours(
    sessions: Sessions,
    email: str,
    *,
    timezone: str | Unset = UNSET,
    working_hours: Mapping[str, Any] | Unset = UNSET,
) -> tuple[UserHours, UserHours]:
    """Set the user's timezone and/or working hours (empty: always available) in one
    transaction; the setting before and after."""
    if timezone is UNSET and working_hours is UNSET:
        raise SettingsError("nothing to change: give a timezone or working hours")
    async with sessions() as session, session.begin():
        user = await _user(session, email, lock=True)
        before = await _user_hours(session, user)
        zone = before.timezone if isinstance(timezone, Unset) else check_timezone(timezone)
        hours = before.working_hours
        if not isinstance(working_hours, Unset):
            hours = check_working_hours(working_hours, zone)
        user.timezone, user.working_hours = zone, hours
        await session.flush()
        return before, dataclasses.replace(before, timezone=zone, working_hours=hours)


__all__ = [
    "AUTO_REPLY_SCHEDULES",
    "MAX_MINUTES",
    "MAX_SUBJECT_MATCH_DAYS",
    "REOPEN_POLICIES",
    "ROUTING_STRATEGIES",
    "UNSET",
    "AccountChanges",
    "AccountSettings",
    "DepartmentView",
    "SettingsError",
    "Unset",
    "UserHours",
    "account_by_address",
    "check_account_changes",
    "check_number",
    "check_timezone",
    "check_working_hours",
    "department_by_name",
    "list_departments",
    "set_department_routing",
    "set_user_hours",
    "show_account",
    "tenant_by_slug",
    "update_account",
    "user_hours",
]
