"""Users of the security suite's tenant, made per test."""

from __future__ import annotations

import uuid
from typing import Any

from postdesk_runtime import Sessions
from postdesk_schema import TenantRole, User


class UserFactory:
    """`await new_user(role=...)`: a new user of the suite's tenant, password `PASSWORD`."""

    def __init__(self, sessions: Sessions, tenant_id: uuid.UUID, password_hash: str) -> None:
        self._sessions = sessions
        self.tenant_id = tenant_id
        self._password_hash = password_hash

    async def __call__(self, *, role: TenantRole = TenantRole.MEMBER, **values: Any) -> User:
        user = User(
            tenant_id=self.tenant_id,
            email=f"sec-{uuid.uuid4().hex[:12]}@example.test",
            password_hash=self._password_hash,
            full_name="Security Probe",
            role=role,
            **values,
        )
        async with self._sessions() as session:
            session.add(user)
            await session.commit()
        return user
