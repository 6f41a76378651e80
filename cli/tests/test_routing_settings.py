"""Account, department and user settings: the rules, what the router then reads, and
`postdesk account|department|user` as a process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from postdesk_cli import routing_rules as rules
from postdesk_router import db as router_db
from postdesk_router.assignment import Strategy
from postdesk_router.assignment_db import assign_new_ticket, department_routing
from postdesk_router.autoreply import AutoReplySettings, account_reason
from postdesk_runtime import Sessions
from postdesk_schema import EmailAccount, User

from .tenancy import Tenancy, postdesk, seed_tenancy

pytestmark = pytest.mark.integration

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# Monday 2026-03-02: 10:00 and 20:00 in Berlin (UTC+1)
MONDAY_MORNING_BERLIN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MONDAY_NIGHT_BERLIN = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


async def stored_account(sessions: Sessions, address: str) -> EmailAccount:
    async with sessions() as session:
        return await rules.account_by_address(session, address)


def auto_reply_settings(account: EmailAccount) -> AutoReplySettings:
    """The account's auto-reply settings as the router reads them (autoreply_db)."""
    return AutoReplySettings(
        enabled=account.auto_reply_enabled,
        message=account.auto_reply_message,
        subject=account.auto_reply_subject,
        schedule=account.auto_reply_schedule,
        window_minutes=account.auto_reply_window_minutes,
        timezone=account.timezone,
        working_hours=account.working_hours,
        signature=account.signature,
        display_name=account.display_name,
        address=account.address,
    )


class TestAccountRules:
    async def test_settings_are_stored_as_the_router_reads_them(self, sessions: Sessions) -> None:
        """Every setting lands in its column; the router's account lookup and auto-reply rules
        see it: out of hours the account answers, within them it does not."""
        seed = await seed_tenancy(sessions)
        before, after = await rules.update_account(
            sessions,
            f" <CS@{seed.slug}.EXAMPLE> ",
            rules.AccountChanges(
                auto_reply_enabled=True,
                auto_reply_message="Thanks, we answer on working days.",
                auto_reply_subject="  We got your mail  ",
                auto_reply_schedule="outside_hours",
                auto_reply_window_minutes=60,
                signature="The Acme team",
                timezone=" Europe/Berlin ",
                working_hours=WEEKDAYS,
                reopen_policy="follow_up",
                subject_match_days=14,
                reassign_after_minutes=90,
            ),
        )
        assert (before.auto_reply_enabled, before.reopen_policy) == (False, "reopen")
        assert after == await rules.show_account(sessions, seed.cs.address)
        assert (after.auto_reply_subject, after.timezone) == ("We got your mail", "Europe/Berlin")
        assert (after.department, after.routing_strategy) == ("Support", "primary")

        account = await stored_account(sessions, seed.cs.address)
        assert account.working_hours == WEEKDAYS
        assert account.auto_reply_window_minutes == 60
        assert account.reassign_after_minutes == 90
        async with sessions() as session:
            ref = (await router_db.active_accounts(session, [seed.cs.address]))[seed.cs.address]
        assert (ref.reopen_policy, ref.subject_match_days) == ("follow_up", 14)
        settings = auto_reply_settings(account)
        assert account_reason(settings, MONDAY_NIGHT_BERLIN) is None
        assert account_reason(settings, MONDAY_MORNING_BERLIN) == (
            "within the account's working hours"
        )

    async def test_off_turns_optional_numbers_off_and_unset_leaves_the_rest(
        self, sessions: Sessions
    ) -> None:
        """None stores NULL (the router's "off"); settings not named keep their values."""
        seed = await seed_tenancy(sessions)
        await rules.update_account(
            sessions,
            seed.cs.address,
            rules.AccountChanges(subject_match_days=7, reassign_after_minutes=30, signature="S"),
        )
        _, after = await rules.update_account(
            sessions,
            seed.cs.address,
            rules.AccountChanges(subject_match_days=None, reassign_after_minutes=None),
        )
        assert (after.subject_match_days, after.reassign_after_minutes) == (None, None)
        account = await stored_account(sessions, seed.cs.address)
        assert (account.subject_match_days, account.reassign_after_minutes) == (None, None)
        assert account.signature == "S"

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({}, "nothing to change"),
            ({"auto_reply_schedule": "weekends"}, "auto_reply_schedule must be one of"),
            ({"reopen_policy": "merge"}, "reopen_policy must be one of"),
            ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
            ({"timezone": " "}, "timezone is empty"),
            ({"working_hours": {"mon": [["9:00", "17:00"]]}}, r"bad time '9:00'"),
            ({"working_hours": {"monday": [["09:00", "17:00"]]}}, r"unknown days \['monday'\]"),
            ({"working_hours": {"mon": []}}, "no open time at all"),
            ({"working_hours": [["09:00", "17:00"]]}, "must be a JSON object of days"),
            ({"subject_match_days": 0}, "between 1 and 3650, got 0"),
            ({"subject_match_days": 100_000}, "between 1 and 3650"),
            ({"reassign_after_minutes": -5}, "between 1 and 525600"),
            ({"auto_reply_window_minutes": 2**31}, "between 0 and 525600"),
            ({"auto_reply_subject": "two\nlines"}, "one line"),
            ({"signature": "nul\x00"}, "NUL character"),
            ({"auto_reply_enabled": True}, "auto_reply_message is empty"),
            (
                {"auto_reply_enabled": True, "auto_reply_message": "x" * 200_001},
                "longer than 200000 characters",
            ),
            (
                {
                    "auto_reply_enabled": True,
                    "auto_reply_message": "Hi",
                    "auto_reply_schedule": "outside_hours",
                },
                "needs the account's working_hours",
            ),
            # a good value and a bad one: neither is written
            ({"signature": "new", "reopen_policy": "never"}, "reopen_policy must be one of"),
            (
                {"working_hours": WEEKDAYS, "timezone": "Europe/Nowhere"},
                "unknown timezone 'Europe/Nowhere'",
            ),
        ],
    )
    async def test_refused_changes_write_nothing(
        self, sessions: Sessions, changes: dict[str, Any], message: str
    ) -> None:
        """Each bad value, or a result the router could not use, is refused as a whole."""
        seed = await seed_tenancy(sessions)
        before = await rules.show_account(sessions, seed.cs.address)
        with pytest.raises(rules.SettingsError, match=message):
            await rules.update_account(sessions, seed.cs.address, rules.AccountChanges(**changes))
        assert await rules.show_account(sessions, seed.cs.address) == before

    async def test_an_auto_replying_account_keeps_what_it_needs(self, sessions: Sessions) -> None:
        """Once on, auto-reply cannot lose its message, nor outside_hours its working hours."""
        seed = await seed_tenancy(sessions)
        await rules.update_account(
            sessions,
            seed.cs.address,
            rules.AccountChanges(
                auto_reply_enabled=True,
                auto_reply_message="Hi",
                auto_reply_schedule="outside_hours",
                working_hours=WEEKDAYS,
            ),
        )
        with pytest.raises(rules.SettingsError, match="needs the account's working_hours"):
            await rules.update_account(
                sessions, seed.cs.address, rules.AccountChanges(working_hours={})
            )
        with pytest.raises(rules.SettingsError, match="auto_reply_message is empty"):
            await rules.update_account(
                sessions, seed.cs.address, rules.AccountChanges(auto_reply_message="  ")
            )
        _, after = await rules.update_account(
            sessions,
            seed.cs.address,
            rules.AccountChanges(auto_reply_enabled=False, working_hours={}),
        )
        assert (after.auto_reply_enabled, after.working_hours) == (False, {})

    async def test_unknown_account_is_refused(self, sessions: Sessions) -> None:
        with pytest.raises(rules.SettingsError, match=r"no email account nobody@nowhere\.example"):
            await rules.show_account(sessions, "nobody@nowhere.example")
        with pytest.raises(rules.SettingsError, match="no email account"):
            await rules.update_account(
                sessions, "nobody@nowhere.example", rules.AccountChanges(signature="x")
            )


class TestDepartmentsAndUsers:
    async def test_routing_strategy_is_what_the_router_assigns_by(self, sessions: Sessions) -> None:
        """The strategy set is the one the router's assignment reads; a name matches without
        case when only one department has it."""
        seed = await seed_tenancy(sessions)
        old, view = await rules.set_department_routing(
            sessions, seed.slug.upper(), "support", "round_robin"
        )
        assert (old, view.name, view.routing_strategy) == ("primary", "Support", "round_robin")
        assert view.accounts == (seed.cs.address,)
        async with sessions() as session, session.begin():
            routing = await department_routing(session, seed.support.id)
        assert routing.strategy is Strategy.ROUND_ROBIN
        listed = await rules.list_departments(sessions, seed.slug)
        assert [(d.name, d.routing_strategy) for d in listed] == [
            ("Sales", "primary"),
            ("Support", "round_robin"),
        ]

    async def test_bad_strategy_department_or_tenant_is_refused(self, sessions: Sessions) -> None:
        seed = await seed_tenancy(sessions)
        with pytest.raises(rules.SettingsError, match="routing_strategy must be one of"):
            await rules.set_department_routing(sessions, seed.slug, "Support", "fastest")
        with pytest.raises(rules.SettingsError, match=r"no department 'Billing' \(it has: "):
            await rules.set_department_routing(sessions, seed.slug, "Billing", "priority")
        with pytest.raises(rules.SettingsError, match="no tenant with slug"):
            await rules.list_departments(sessions, "no-such-tenant")
        listed = await rules.list_departments(sessions, seed.slug)
        assert {d.routing_strategy for d in listed} == {"primary"}

    async def test_user_hours_decide_who_the_router_assigns(self, sessions: Sessions) -> None:
        """Ann (primary) works Berlin weekdays 09-17: the router gives her Monday morning's
        ticket and Monday night's to Bob (backup, always available)."""
        seed = await seed_tenancy(sessions)
        before, after = await rules.set_user_hours(
            sessions, seed.ann.email.upper(), timezone="Europe/Berlin", working_hours=WEEKDAYS
        )
        assert (before.timezone, before.working_hours) == ("UTC", {})
        assert (after.timezone, after.working_hours) == ("Europe/Berlin", WEEKDAYS)
        assert await rules.user_hours(sessions, seed.ann.email) == after

        async def assignee(at: datetime) -> tuple[Any, str]:
            async with sessions() as session, session.begin():
                choice = await assign_new_ticket(
                    session,
                    tenant_id=seed.tenant.id,
                    account_id=seed.cs.id,
                    department_id=seed.support.id,
                    now=at,
                )
            assert choice is not None
            return choice.user_id, str(choice.rule)

        assert await assignee(MONDAY_MORNING_BERLIN) == (seed.ann.id, "primary")
        assert await assignee(MONDAY_NIGHT_BERLIN) == (seed.bob.id, "backup")

        _, always = await rules.set_user_hours(sessions, seed.ann.email, working_hours={})
        assert (always.timezone, always.working_hours) == ("Europe/Berlin", {})
        assert await assignee(MONDAY_NIGHT_BERLIN) == (seed.ann.id, "primary")

    async def test_bad_user_hours_write_nothing(self, sessions: Sessions) -> None:
        seed = await seed_tenancy(sessions)
        with pytest.raises(rules.SettingsError, match="nothing to change"):
            await rules.set_user_hours(sessions, seed.ann.email)
        with pytest.raises(rules.SettingsError, match="expected a list of"):
            await rules.set_user_hours(
                sessions, seed.ann.email, timezone="Asia/Tokyo", working_hours={"mon": "all day"}
            )
        with pytest.raises(rules.SettingsError, match="no user with login"):
            await rules.set_user_hours(sessions, "nobody@nowhere.example", timezone="UTC")
        async with sessions() as session:
            user = await session.get_one(User, seed.ann.id)
        assert (user.timezone, user.working_hours) == ("UTC", {})


async def test_console_script_sets_shows_and_refuses_with_exit_2(
    sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    """`postdesk account|department|user` print what they stored; a refused value exits 2
    with one line saying why and leaves everything as it was."""
    seed: Tenancy = await seed_tenancy(sessions)
    message = tmp_path / "auto-reply.txt"
    message.write_text("Thanks for writing.\nWe answer on working days.\n")
    hours = tmp_path / "hours.json"
    hours.write_text(json.dumps(WEEKDAYS))
    code, out, err = await postdesk(
        database_url, "account", "set", seed.cs.address, "--auto-reply", "on",
        "--auto-reply-message", f"@{message}", "--auto-reply-schedule", "outside_hours",
        "--timezone", "Europe/Berlin", "--working-hours", f"@{hours}",
        "--subject-match-days", "14", "--reassign-after-minutes", "off",
    )  # fmt: skip
    assert code == 0, err
    assert "  auto_reply_enabled: off -> on\n" in out
    assert "  reassign_after_minutes: off (unchanged)\n" in out
    account = await stored_account(sessions, seed.cs.address)
    assert account.auto_reply_message == "Thanks for writing.\nWe answer on working days."
    assert (account.working_hours, account.subject_match_days) == (WEEKDAYS, 14)

    code, out, err = await postdesk(database_url, "account", "show", seed.cs.address)
    assert code == 0, err
    assert out.splitlines()[:2] == [
        f"{seed.cs.address} (tenant {seed.slug}, shared, active)",
        "department: Support (routing primary)",
    ]
    assert 'auto_reply_message: "Thanks for writing.\\nWe answer on working days."' in out
    code, out, _ = await postdesk(database_url, "account", "show", seed.cs.address, "--json")
    assert json.loads(out)["working_hours"] == WEEKDAYS

    code, out, err = await postdesk(
        database_url, "department", "set", seed.slug, "Sales", "--routing", "least_open"
    )
    assert (code, out) == (
        0,
        f"department 'Sales' of tenant {seed.slug}: routing primary -> least_open\n",
    ), err
    code, out, err = await postdesk(
        database_url, "user", "hours", seed.bob.email, "--timezone", "America/New_York",
        "--working-hours", "{}",
    )  # fmt: skip
    assert code == 0, err
    assert out.endswith("  now timezone America/New_York, working hours always available\n")

    refusals = [
        (
            ("account", "set", seed.cs.address, "--signature", "new", "--working-hours", "{}"),
            "error: auto-reply outside_hours needs the account's working_hours",
        ),
        (
            ("account", "set", seed.cs.address, "--working-hours", '{"mon": [["09:00"]]}'),
            "error: working hours: mon: expected [start, end]",
        ),
        (
            ("account", "set", seed.cs.address, "--working-hours", "{mon"),
            "argument --working-hours: not valid JSON",
        ),
        (
            ("account", "set", seed.cs.address, "--reassign-after-minutes", "soon"),
            "argument --reassign-after-minutes: expected a whole number or 'off'",
        ),
        (
            ("account", "set", seed.cs.address, "--signature", f"@{tmp_path / 'missing'}"),
            "argument --signature: cannot read",
        ),
        (("department", "set", seed.slug, "Sales", "--routing", "fastest"), "invalid choice"),
        (("user", "hours", seed.ann.email, "--timezone", "Nowhere"), "error: unknown timezone"),
    ]
    for args, expected in refusals:
        code, out, err = await postdesk(database_url, *args)
        assert (code, out) == (2, ""), (args, out, err)
        assert expected in err, (args, err)
    account_after = await stored_account(sessions, seed.cs.address)
    assert (account_after.signature, account_after.working_hours) == ("", WEEKDAYS)
