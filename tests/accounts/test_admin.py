"""Roles and the operator's rules of accounts: listing, changing, disabling, and who may log in to the
console; accounts made before roles existed keep what they could do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from opendispatch.accounts import service
from opendispatch.accounts.schemas import AccountLookup
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.storage.migrate import alembic_config
from opendispatch.units import service as units
from opendispatch.web import sessions
from tests.support import Community, Provisioner, Server, every_row_count
from tests.web.support import PASSWORD, Console, dispatcher

T = TypeVar("T")


@pytest.fixture
def tx(provision: Provisioner) -> Callable[..., Any]:
    """Run one service function in its own committed transaction."""

    def run(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with provision.db.transaction() as conn:
            return work(conn, *args, **kwargs)

    return run


@pytest.fixture
def other(provision: Provisioner) -> Community:
    return provision.community("Bravo")


def by_name(username: str) -> AccountLookup:
    return AccountLookup(username=username)


def can_log_in(server: Server, community: Community, username: str) -> bool:
    with server.client() as http:
        body = {"communityId": community.community_id, "username": username, "password": PASSWORD}
        return http.post("/console/api/login", json=body).status_code == 200


def test_roles_decide_who_may_log_in_to_the_console(
    tx: Callable[..., Any], provision: Provisioner, server: Server, community: Community
) -> None:
    for username, roles in (
        ("boss", {"admin"}),
        ("disp", {"dispatcher"}),
        ("mem", {"member"}),
        ("nobody", set()),
    ):
        tx(units.create_account, community_id=community.community_id, username=username, now=0, roles=roles)
    with pytest.raises(InvalidInput):
        tx(units.create_account, community_id=community.community_id, username="x", now=0, roles={"owner"})
    # Passwords set straight in the table: set_password would make the member a dispatcher.
    with provision.db.transaction() as conn:
        conn.execute(text("UPDATE accounts SET password_hash = :h"), {"h": sessions.hash_password(PASSWORD)})
    assert can_log_in(server, community, "boss")
    assert can_log_in(server, community, "disp")
    # A member logs in to their own page (the board answers them 403); an account with no role cannot.
    assert can_log_in(server, community, "mem")
    assert not can_log_in(server, community, "nobody")
    assert Console(server, community, "mem").get("/console/api/servers/1/board").status_code == 403
    assert Console(server, community, "boss").session["username"] == "boss"
    with provision.db.transaction() as conn:
        user_roles = conn.execute(
            text("SELECT is_admin, is_dispatcher, is_member FROM accounts WHERE username = 'boss'")
        ).one()
    assert tuple(user_roles) == (True, False, False)


def test_account_summaries_are_scoped_to_the_community(
    tx: Callable[..., Any], provision: Provisioner, community: Community, other: Community
) -> None:
    ann = dispatcher(provision, community, "ann", community_user_id="license:ann")
    provision.account(community, "bob")
    eve = provision.account(other, "eve")
    provision.unit(community, ann["uuid"])
    listed = tx(service.account_summaries, community_id=community.community_id)
    assert [(one.username, one.roles, one.hasPassword, one.identifiers) for one in listed] == [
        ("ann", ["dispatcher", "member"], True, 1),
        ("bob", ["member"], False, 0),
    ]
    assert (
        tx(service.account_summary, community_id=community.community_id, lookup=by_name("ann")) == listed[0]
    )
    with pytest.raises(NotFound):
        tx(
            service.account_summary,
            community_id=community.community_id,
            lookup=AccountLookup(accountUuid=eve["uuid"]),
        )
    with pytest.raises(NotFound):
        tx(service.account_summaries, community_id="nope")


def test_change_account_changes_ids_and_roles_and_refuses_what_is_taken(
    tx: Callable[..., Any], provision: Provisioner, community: Community, other: Community
) -> None:
    provision.account(community, "ann")
    provision.account(community, "bob")
    provision.account(other, "eve")
    cid = community.community_id
    changed = tx(
        service.change_account,
        community_id=cid,
        lookup=by_name("ann"),
        username="anna",
        community_user_id="license:anna",
        discord="111",
        add_roles=frozenset({"admin"}),
        remove_roles=frozenset({"member"}),
    )
    assert (changed.username, changed.communityUserId, changed.discord, changed.roles) == (
        "anna",
        "license:anna",
        "111",
        ["admin"],
    )
    # eve of another community may hold the same ids.
    tx(service.change_account, community_id=other.community_id, lookup=by_name("eve"), discord="111")
    before = every_row_count(provision)
    with pytest.raises(Conflict):
        tx(service.change_account, community_id=cid, lookup=by_name("bob"), discord="111")
    with pytest.raises(Conflict):
        tx(service.change_account, community_id=cid, lookup=by_name("bob"), username="anna")
    with pytest.raises(InvalidInput):
        tx(service.change_account, community_id=cid, lookup=by_name("bob"), roblox="12x")
    with pytest.raises(InvalidInput):
        tx(service.change_account, community_id=cid, lookup=by_name("bob"), add_roles=frozenset({"owner"}))
    with pytest.raises(NotFound):
        tx(service.change_account, community_id=cid, lookup=by_name("eve"), discord="5")
    assert every_row_count(provision) == before
    bob = tx(service.account_summary, community_id=cid, lookup=by_name("bob"))
    assert (bob.username, bob.discord, bob.roblox, bob.roles) == ("bob", None, None, ["member"])
    cleared = tx(
        service.change_account, community_id=cid, lookup=by_name("anna"), discord="", community_user_id=""
    )
    assert (cleared.discord, cleared.communityUserId) == (None, None)


def test_a_linked_id_that_is_another_accounts_api_id_is_refused(
    tx: Callable[..., Any], provision: Provisioner, community: Community
) -> None:
    ann = provision.account(community, "ann")
    provision.account(community, "bob")
    cid = community.community_id
    with provision.db.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO account_api_ids (community_id, api_id, account_uuid) VALUES (:c, 'steam:1', :a)"
            ),
            {"c": cid, "a": ann["uuid"]},
        )
    with pytest.raises(Conflict):
        tx(service.change_account, community_id=cid, lookup=by_name("bob"), community_user_id="steam:1")
    mine = tx(service.change_account, community_id=cid, lookup=by_name("ann"), community_user_id="steam:1")
    assert mine.communityUserId == "steam:1"


def test_disabling_an_account_ends_its_sessions_and_refuses_its_logins(
    tx: Callable[..., Any], provision: Provisioner, server: Server, community: Community, other: Community
) -> None:
    dispatcher(provision, community, "ann")
    dispatcher(provision, other, "ann")
    console = Console(server, community, "ann")
    disabled = tx(
        service.set_account_disabled,
        community_id=community.community_id,
        lookup=by_name("ann"),
        disabled=True,
        now=1000,
    )
    assert disabled.disabled is True and disabled.disabledAt == "1970-01-01T00:00:01Z"
    assert console.get("/console/api/session").status_code == 401
    assert not can_log_in(server, community, "ann")
    assert can_log_in(server, other, "ann")  # the other community's ann is another account
    tx(
        service.set_account_disabled,
        community_id=community.community_id,
        lookup=by_name("ann"),
        disabled=False,
        now=2000,
    )
    assert can_log_in(server, community, "ann")
    with pytest.raises(NotFound):
        tx(service.set_account_disabled, community_id="nope", lookup=by_name("ann"), disabled=True, now=0)


def test_losing_a_role_closes_its_pages_and_losing_every_role_ends_the_sessions(
    tx: Callable[..., Any], provision: Provisioner, server: Server, community: Community
) -> None:
    dispatcher(provision, community, "ann")
    console = Console(server, community, "ann")
    tx(
        service.change_account,
        community_id=community.community_id,
        lookup=by_name("ann"),
        remove_roles=frozenset({"dispatcher"}),
    )
    # Still a member: the session stays, for their own page only.
    assert console.get("/console/api/session").json()["roles"] == ["member"]
    assert console.get("/console/api/servers/1/board").status_code == 403
    tx(
        service.change_account,
        community_id=community.community_id,
        lookup=by_name("ann"),
        remove_roles=frozenset({"member"}),
    )
    assert console.get("/console/api/session").status_code == 401
    assert not can_log_in(server, community, "ann")


@pytest.mark.sqlite_only
def test_accounts_made_before_roles_keep_what_they_could_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0012")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO communities (community_id, name, plan, api_enabled, last_call_id, created_at) "
                "VALUES ('c1', 'Old', 4, 1, 0, 0)"
            )
        )
        for username, password_hash in (("disp", "$argon2id$x"), ("player", None)):
            conn.execute(
                text(
                    "INSERT INTO accounts (account_uuid, community_id, username, secret_hash, password_hash, "
                    "created_at) VALUES (:u, 'c1', :u, 'h', :p, 0)"
                ),
                {"u": username, "p": password_hash},
            )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT username, is_admin, is_dispatcher, is_member, disabled_at FROM accounts "
                "ORDER BY username"
            )
        ).all()
        community = conn.execute(text("SELECT disabled_at FROM communities")).scalar()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("disp", 0, 1, 0, None), ("player", 0, 0, 1, None)]
    assert community is None
