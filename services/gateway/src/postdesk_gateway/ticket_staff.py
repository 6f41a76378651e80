"""A ticket's staff: the colleagues an agent on the ticket may name.

The user admin API is for admins only, yet every agent on a ticket needs the
names of the people around it: whom to assign it to, whom to @mention, who
wrote a note. So whoever sees the ticket may list the active users of its
tenant with an active assignment on its mailbox (any role), and the
tenant's admins (who see every ticket), each with the two answers the
ticket's own rules would give: `can_be_assignee` as PATCH /tickets/{id}
judges an assignee (`inbox_db.can_be_assignee`), `mentionable` as a note's
@mention is judged (`mentions`). Deactivated users are never listed.
"""

from __future__ import annotations

import uuid
from typing import cast

from postdesk_contracts.api_staff import StaffList, StaffMember, StaffRole
from postdesk_schema import AssignmentRole, EmailAssignment, TenantRole, Ticket, User
from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway import db, mentions
from postdesk_gateway.domain import CurrentUser, NotFoundError, UnprocessableError


async def ticket_staff(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> StaffList:
    """The ticket's staff by full name; 404 for a ticket `user` cannot see."""
    ticket = await db.get_visible_ticket(session, user, ticket_id)
    if ticket is None:
        raise NotFoundError("ticket not found")
    return StaffList(items=[_member(u, a) for u, a in await _staff_rows(session, ticket)])


async def _staff_rows(
    session: AsyncSession, ticket: Ticket
) -> list[tuple[User, EmailAssignment | None]]:
    """Active users of the ticket's tenant who are admins or hold an active assignment on its
    mailbox, each with that assignment (None for an admin without one)."""
    on_mailbox = and_(
        col(EmailAssignment.user_id) == col(User.id),
        col(EmailAssignment.tenant_id) == ticket.tenant_id,
        col(EmailAssignment.account_id) == ticket.account_id,
        col(EmailAssignment.is_active).is_(True),
    )
    query = (
        select(User, EmailAssignment)
        .outerjoin(EmailAssignment, on_mailbox)
        .where(
            col(User.tenant_id) == ticket.tenant_id,
            col(User.is_active).is_(True),
            or_(col(User.role) == TenantRole.ADMIN.value, col(EmailAssignment.id).is_not(None)),
        )
        .order_by(col(User.full_name), col(User.email))
    )
    return [(u, a) for u, a in (await session.execute(query)).all()]


def _member(user: User, assignment: EmailAssignment | None) -> StaffMember:
    role = AssignmentRole(assignment.role) if assignment else TenantRole.ADMIN
    return StaffMember(
        id=user.id,
        full_name=user.full_name,
        email=user.email,
        role=cast(StaffRole, role.value),
        # inbox_db.can_be_assignee's condition; the query already holds the user active.
        can_be_assignee=assignment is not None and assignment.role != AssignmentRole.VIEWER,
        mentionable=_mentionable(user),
    )


def _mentionable(user: User) -> bool:
    """Whether a note's `@<login>` names `user`, judged by the notes' own rules. Listed users
    are active and see the ticket (admin or assigned); a login the mention syntax cannot
    spell is the case this leaves out."""
    handle = user.email.lower()
    if mentions.find_handles(f"@{handle}") != [handle]:
        return False
    candidate = mentions.Candidate(user.id, user.email, user.is_active, can_see_ticket=True)
    try:
        mentions.resolve([handle], [candidate])
    except UnprocessableError:
        return False
    return True
