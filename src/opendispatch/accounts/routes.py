"""HTTP door of the general account operations: accounts, API ids, secrets and link codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from opendispatch.accounts import service
from opendispatch.accounts.schemas import (
    Account,
    AccountList,
    AccountLookup,
    ApiIdHolder,
    ApiIds,
    ApiIdsChange,
    LinkCode,
    LinkCodeRequest,
    LinkRedeem,
    SecretCheck,
    VerifiedSecret,
)
from opendispatch.api.auth import Caller, api_caller, console_session
from opendispatch.api.limits import RateLimited
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.api.state import app_state
from opendispatch.schemas import MAX_ID
from opendispatch.units.schemas import Link

router = APIRouter(tags=["general"], responses=PROBLEM_RESPONSES, route_class=Operation)
# The console's redeem endpoint stays out of the API documentation: only the link page calls it.
console = APIRouter(include_in_schema=False, route_class=Operation)
Text = Annotated[str | None, Query(min_length=1, max_length=255)]
LINK_PAGE = "console/link"


@router.get("/v2/general/accounts", response_model=AccountList, summary="Get Accounts")
async def get_accounts(
    caller: Annotated[Caller, api_caller("accounts")],
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    status: Annotated[int, Query(ge=0, le=4, description="ACCOUNT_STATUS; 1 VALIDATED.")] = 1,
    username: Text = None,
) -> AccountList:
    """A page of the community's accounts, by username."""
    return await caller.read(
        service.list_accounts, limit=limit, offset=offset, status=status, username=username
    )


@router.get("/v2/general/accounts/account", response_model=Account, summary="Get Account")
async def get_account(
    caller: Annotated[Caller, api_caller("accounts")],
    communityUserId: Text = None,
    roblox: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    discord: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    accountUuid: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    username: Text = None,
) -> Account:
    """One account, named by exactly one identifier."""
    lookup = AccountLookup(communityUserId, roblox, discord, accountUuid, username)
    return await caller.read(service.find_account, lookup=lookup)


@router.get("/v2/general/api-ids/{apiId}", response_model=ApiIdHolder, summary="Check API ID")
async def check_api_id(
    apiId: Annotated[str, Path(min_length=1, max_length=255, description="An in-game API id.")],
    caller: Annotated[Caller, api_caller("api_ids")],
) -> ApiIdHolder:
    """The account that holds an API id; 404 when none does."""
    return await caller.read(service.api_id_holder, api_id=apiId)


@router.put("/v2/general/api-ids", response_model=ApiIds, summary="Set API IDs")
async def set_api_ids(change: ApiIdsChange, caller: Annotated[Caller, api_caller("api_ids")]) -> ApiIds:
    """Replace an account's API ids, or add to them with ``pushNew``."""
    return await caller.write(service.set_api_ids, change=change)


@router.post("/v2/general/secrets/verify", response_model=VerifiedSecret, summary="Verify Secret")
async def verify_secret(
    body: SecretCheck, caller: Annotated[Caller, api_caller("verify_secret")]
) -> VerifiedSecret:
    """The account whose secret uuid this is, as ``{secret: accountUuid}``."""
    return await caller.read(service.verify_secret, secret=body.secret)


@router.post("/v2/general/links", response_model=LinkCode, summary="Create Community Link")
async def create_link(
    request: Request, body: LinkCodeRequest, caller: Annotated[Caller, api_caller("link_codes")]
) -> LinkCode:
    """A ten-minute code for a player; ``url`` is the console page where a logged-in account redeems it."""
    code = await caller.write(
        service.create_link_code, community_user_id=body.communityUserId, now=caller.now()
    )
    return code.model_copy(update={"url": f"{request.base_url}{LINK_PAGE}?code={code.code}"})


# A code is 6 of 31 characters and up to 500 are outstanding: a few tries a minute per account make
# guessing one hopeless (years), while a player who mistypes tries again at once.
REDEEM_TRIES_PER_MINUTE = 5


@console.post("/console/api/links/redeem", response_model=Link)
async def redeem_link(
    request: Request, body: LinkRedeem, caller: Annotated[Caller, console_session()]
) -> Link:
    """Link the code's player to the logged-in account."""
    assert caller.session is not None  # a console session's route
    # The login throttle's store (shared by a fleet through Redis, refusing when Redis is down).
    tried = await app_state(request).login_limiter.hit(
        0, f"link-redeem:{caller.session.account_uuid}", REDEEM_TRIES_PER_MINUTE, caller.clock.monotonic()
    )
    if not tried.allowed:
        raise RateLimited(tried.retry_after)
    return await caller.write(
        service.redeem_link_code, account_uuid=caller.session.account_uuid, code=body.code, now=caller.now()
    )


router.include_router(console)
