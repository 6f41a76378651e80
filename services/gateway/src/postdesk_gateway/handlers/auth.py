"""Login sessions (login, refresh, logout), the caller's own identity and password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from postdesk_contracts.api import LoginRequest, Me
from postdesk_contracts.api_access import PasswordChange, RefreshRequest, SessionTokens
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import login_sessions, service
from postdesk_gateway.access import SESSION_ONLY, LoginPolicy, LoginThrottle
from postdesk_gateway.auth import PUBLIC, Passwords, TokenService
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.login_sessions import Client
from postdesk_gateway.settings import GatewaySettings

MAX_USER_AGENT_CHARS = 500


def access_dependencies(settings: GatewaySettings) -> dict[str, Provide]:
    """The login policy, this app's login throttle and the requesting client."""
    policy = LoginPolicy(
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        max_failures=settings.login_max_failures,
        lockout=timedelta(minutes=settings.login_lockout_minutes),
    )
    throttle = LoginThrottle(
        settings.login_ip_max_failures, timedelta(seconds=settings.login_ip_window_seconds)
    )

    def provide_login_client(request: Request[Any, Any, State]) -> Client:
        return Client(
            ip=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        )

    return {
        "login_policy": Provide(lambda: policy, use_cache=True, sync_to_thread=False),
        "login_throttle": Provide(lambda: throttle, use_cache=True, sync_to_thread=False),
        "login_client": Provide(provide_login_client, sync_to_thread=False),
    }


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list

    @post("/login", status_code=200, responses=problems(400, 401, 429), opt=PUBLIC)
    async def login(
        self,
        data: JSONBody[LoginRequest],
        session: NamedDependency[AsyncSession],
        passwords: NamedDependency[Passwords],
        tokens: NamedDependency[TokenService],
        login_policy: NamedDependency[LoginPolicy],
        login_throttle: NamedDependency[LoginThrottle],
        login_client: NamedDependency[Client],
    ) -> SessionTokens:
        """Exchange email and password for a session. One 401 for every failure (a locked
        account included); 429 after too many failures from your address."""
        return await login_sessions.login(
            session,
            passwords,
            tokens,
            login_policy,
            login_throttle,
            (data.email, data.password),
            login_client,
            datetime.now(UTC),
        )

    @post("/refresh", status_code=200, responses=problems(400, 401), opt=PUBLIC)
    async def refresh(
        self,
        data: JSONBody[RefreshRequest],
        session: NamedDependency[AsyncSession],
        tokens: NamedDependency[TokenService],
        login_policy: NamedDependency[LoginPolicy],
        login_client: NamedDependency[Client],
    ) -> SessionTokens:
        """A new pair for a refresh token, which is used up. Presenting a used token again
        ends the whole session: 401."""
        return await login_sessions.refresh(
            session, tokens, login_policy, data.refresh_token, login_client, datetime.now(UTC)
        )

    @post("/logout", status_code=204, responses=problems(400), opt=PUBLIC)
    async def logout(
        self, data: JSONBody[RefreshRequest], session: NamedDependency[AsyncSession]
    ) -> None:
        """End the session of this refresh token (every token of it). 204 even for an
        unknown token."""
        await login_sessions.logout(session, data.refresh_token, datetime.now(UTC))


class MeController(Controller):
    path = "/me"
    tags = ["auth"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401))
    async def me(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> Me:
        """The caller and the mailboxes they can see, with their role and rights."""
        return await service.me(session, user)

    @post("/password", status_code=200, responses=problems(400, 401, 403, 422), opt=SESSION_ONLY)
    async def change_password(
        self,
        data: JSONBody[PasswordChange],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        passwords: NamedDependency[Passwords],
        tokens: NamedDependency[TokenService],
        login_policy: NamedDependency[LoginPolicy],
        login_client: NamedDependency[Client],
    ) -> SessionTokens:
        """Change your password (403 if `current_password` is wrong, 422 if the new one is
        refused). Every session ends, this one included: use the new pair answered."""
        return await login_sessions.change_password(
            session,
            passwords,
            tokens,
            login_policy,
            user,
            (data.current_password, data.new_password),
            login_client,
            datetime.now(UTC),
        )
