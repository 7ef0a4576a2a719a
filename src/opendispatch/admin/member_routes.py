"""The doors of a community's people in the browser: the admin's Members and Units sections
(``/console/api/admin/members...`` and ``/console/api/admin/units...``, admin role), the invite page where
a link is answered (no session: the link's token is the proof), and a member's own page (``/console/me``:
any logged-in account, its own units only).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from opendispatch import __version__
from opendispatch.accounts import service as accounts
from opendispatch.accounts.schemas import (
    AccountSummary,
    Invite,
    InviteAccepted,
    InviteAnswer,
    InviteCheck,
    InviteInfo,
    InviteLink,
)
from opendispatch.admin import me
from opendispatch.admin import members as service
from opendispatch.admin.routes import ADMIN, Admin
from opendispatch.admin.schemas import (
    MemberChange,
    MemberList,
    MemberSwitch,
    MyPage,
    MyUnitChoice,
    NewInvite,
    PasswordReset,
    UnitChoice,
    UnitFields,
    UnitRecords,
)
from opendispatch.admin.service import Actor
from opendispatch.api.auth import Caller, console_session, require_same_origin
from opendispatch.api.params import AccountUuid, IdentId
from opendispatch.api.routing import Operation
from opendispatch.api.state import app_state
from opendispatch.errors import NotAuthenticated
from opendispatch.schemas import MAX_ID
from opendispatch.units.schemas import UnitRecord
from opendispatch.web import sessions
from opendispatch.web.routes import PAGE_HEADERS, STATIC, set_session_cookie
from opendispatch.web.schemas import Login

members = APIRouter(include_in_schema=False, route_class=Operation)
MEMBERS = ADMIN + "/members"
UNITS = ADMIN + "/units"
ME = "/console/api/me"
INVITE_PAGE = "console/invite"
InviteId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="An invite's id.")]
Member = Annotated[Caller, console_session()]  # any logged-in account, on its own page


def _actor(caller: Caller) -> Actor:
    assert caller.session is not None  # a console session's route
    return Actor(caller.session.account_uuid, caller.session.username)


def _own(caller: Caller) -> str:
    assert caller.session is not None
    return caller.session.account_uuid


def _with_url(request: Request, link: InviteLink) -> InviteLink:
    return link.model_copy(update={"url": f"{request.base_url}{INVITE_PAGE}?token={link.token}"})


def _page(name: str) -> Response:
    page = (STATIC / name).read_text().replace("{{version}}", __version__)
    return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


# -- the admin's Members section ------------------------------------------------------------------------


@members.get(MEMBERS, response_model=MemberList)
async def list_members(caller: Admin) -> MemberList:
    """Every account of the community, and the invite and reset links still open."""
    return await caller.read(service.list_members, now=caller.now())


@members.post(MEMBERS + "/invites", response_model=InviteLink)
async def invite_member(request: Request, body: NewInvite, caller: Admin) -> InviteLink:
    """A one-time, expiring link for a new member with these roles; its token is shown this once."""
    link = await caller.write(
        service.invite_member, actor=_actor(caller), roles=body.roles, hours=body.hours, now=caller.now()
    )
    return _with_url(request, link)


@members.delete(MEMBERS + "/invites/{inviteId}", response_model=Invite)
async def revoke_invite(inviteId: InviteId, caller: Admin) -> Invite:
    """Make an invite or reset link dead before it expires."""
    return await caller.write(
        service.revoke_invite, actor=_actor(caller), invite_id=inviteId, now=caller.now()
    )


@members.patch(MEMBERS + "/{accountUuid}", response_model=AccountSummary)
async def change_member(accountUuid: AccountUuid, body: MemberChange, caller: Admin) -> AccountSummary:
    """Change a member's roles and linked community user, Discord and Roblox ids."""
    return await caller.write(
        service.change_member, actor=_actor(caller), account_uuid=accountUuid, change=body, now=caller.now()
    )


@members.put(MEMBERS + "/{accountUuid}/disabled", response_model=AccountSummary)
async def disable_member(accountUuid: AccountUuid, body: MemberSwitch, caller: Admin) -> AccountSummary:
    """Disable a member (no login; their sessions end) or enable them again."""
    return await caller.write(
        service.set_member_disabled,
        actor=_actor(caller),
        account_uuid=accountUuid,
        disabled=body.disabled,
        now=caller.now(),
    )


@members.post(MEMBERS + "/{accountUuid}/password-reset", response_model=InviteLink)
async def reset_password(
    request: Request, accountUuid: AccountUuid, body: PasswordReset, caller: Admin
) -> InviteLink:
    """A one-time link that sets the member's new password; the old one stops working now."""
    link = await caller.write(
        service.reset_password,
        actor=_actor(caller),
        account_uuid=accountUuid,
        hours=body.hours,
        now=caller.now(),
    )
    return _with_url(request, link)


# -- the admin's Units section --------------------------------------------------------------------------


@members.get(UNITS, response_model=UnitRecords)
async def list_units(caller: Admin) -> UnitRecords:
    """Every unit of the community: whose it is, its fields, the servers it is selected on."""
    return await caller.read(service.list_units)


@members.patch(UNITS + "/{identId}", response_model=UnitRecord)
async def change_unit(identId: IdentId, body: UnitFields, caller: Admin) -> UnitRecord:
    """Change a member's unit's number, name, department, district, subdivision, rank or group."""
    return await caller.write(
        service.change_unit, actor=_actor(caller), ident_id=identId, fields=body, now=caller.now()
    )


@members.put(UNITS + "/{identId}/selected", response_model=UnitRecord)
async def select_unit(identId: IdentId, body: UnitChoice, caller: Admin) -> UnitRecord:
    """Make the unit its member's selected one on a server."""
    return await caller.write(
        service.select_unit, actor=_actor(caller), ident_id=identId, server_id=body.serverId, now=caller.now()
    )


# -- the invite page: answering an invite or reset link -------------------------------------------------


@members.get("/console/invite")
async def invite_page() -> Response:
    """The page an invite or reset link opens (``?token=...``): pick a username and password."""
    return _page("invite.html")


@members.post("/console/api/invite/check", response_model=InviteInfo)
async def check_invite(request: Request, body: InviteCheck) -> InviteInfo:
    """What a link is for, before it is answered; 404 when it is unknown, used or expired."""
    state = app_state(request)
    return await state.db.read(accounts.invite_info, token=body.token, now=state.clock.now_ms())


@members.post("/console/api/invite/accept", response_model=InviteAccepted)
async def accept_invite(request: Request, body: InviteAnswer) -> Response:
    """Use a link once: join with a username and password (or set the new password), then log in."""
    require_same_origin(request)
    state = app_state(request)
    # A dead link costs no password hashing; the write below checks the link again.
    await state.db.read(accounts.invite_info, token=body.token, now=state.clock.now_ms())
    sessions.check_password_rules(body.password)
    password_hash = await asyncio.get_running_loop().run_in_executor(
        sessions.PASSWORD_THREAD, sessions.hash_password, body.password
    )
    accepted = await state.db.write(
        service.answer_invite,
        token=body.token,
        username=body.username,
        password_hash=password_hash,
        now=state.clock.now_ms(),
    )
    login = Login(communityId=accepted.communityId, username=accepted.username, password=body.password)
    try:
        opened = await sessions.log_in(state.db, state.clock, login)
    except NotAuthenticated:  # a disabled account's new password: set, but no session
        return Response(accepted.model_dump_json(), media_type="application/json")
    answer = accepted.model_copy(update={"loggedIn": True})
    response = Response(answer.model_dump_json(), media_type="application/json")
    set_session_cookie(request, response, opened)
    return response


# -- a member's own page --------------------------------------------------------------------------------


@members.get("/console/me")
async def my_page_html() -> Response:
    """A member's own page: their units, the selected one per server, and their current call."""
    return _page("me.html")


@members.get(ME, response_model=MyPage)
async def my_page(caller: Member) -> MyPage:
    """Who is logged in, their units and selections, and the open call their unit is on."""
    return await caller.read(me.my_page, account_uuid=_own(caller))


@members.post(ME + "/identifiers", response_model=MyPage)
async def add_my_unit(body: UnitFields, caller: Member) -> MyPage:
    """Add a unit of the logged-in account."""
    return await caller.write(me.add_unit, account_uuid=_own(caller), fields=body, now=caller.now())


@members.patch(ME + "/identifiers/{identId}", response_model=MyPage)
async def edit_my_unit(identId: IdentId, body: UnitFields, caller: Member) -> MyPage:
    """Change one of the logged-in account's units."""
    return await caller.write(
        me.edit_unit, account_uuid=_own(caller), ident_id=identId, fields=body, now=caller.now()
    )


@members.delete(ME + "/identifiers/{identId}", response_model=MyPage)
async def remove_my_unit(identId: IdentId, caller: Member) -> MyPage:
    """Delete one of the logged-in account's units that never worked a call."""
    return await caller.write(me.remove_unit, account_uuid=_own(caller), ident_id=identId, now=caller.now())


@members.put(ME + "/selected-identifier", response_model=MyPage)
async def select_my_unit(body: MyUnitChoice, caller: Member) -> MyPage:
    """Select one of the logged-in account's units on a server."""
    return await caller.write(
        me.select_unit,
        account_uuid=_own(caller),
        ident_id=body.identId,
        server_id=body.serverId,
        now=caller.now(),
    )
