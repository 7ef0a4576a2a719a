"""Rules of accounts and units, and how call targets resolve to units (``resolve_targets``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import text

from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.units import service as units
from opendispatch.units.schemas import Targets
from tests.support import Community, Provisioner
from tests.units.support import LICENSE, make_crew, set_group


def resolve(
    provision: Provisioner,
    community: Community,
    server_id: int = 1,
    users: Sequence[str] = (),
    accounts: Sequence[str] = (),
) -> list[int]:
    with provision.db.transaction() as conn:
        return units.resolve_targets(
            conn,
            community_id=community.community_id,
            server_id=server_id,
            targets=Targets(communityUserIds=list(users), accounts=list(accounts)),
        )


@pytest.fixture
def crew(provision: Provisioner, community: Community) -> dict[str, dict[str, Any]]:
    """Three linked accounts with a unit on server 1, one unlinked with a unit, one with none."""
    people: dict[str, dict[str, Any]] = {}
    for name in ("ann", "bob", "cat"):
        account = provision.account(community, name, community_user_id=f"license:{name}")
        people[name] = {**account, "unit": provision.unit(community, account["uuid"], unit_num=name)}
    unlinked = provision.account(community, "dan")
    people["dan"] = {**unlinked, "unit": provision.unit(community, unlinked["uuid"], unit_num="dan")}
    people["eve"] = {**provision.account(community, "eve", community_user_id="license:eve"), "unit": None}
    return people


def test_community_user_ids_resolve_to_their_accounts_selected_unit(
    provision: Provisioner, community: Community, crew: dict[str, dict[str, Any]]
) -> None:
    assert resolve(provision, community, users=["license:ann"]) == [crew["ann"]["unit"]]


def test_account_uuids_resolve_to_the_selected_unit_linked_or_not(
    provision: Provisioner, community: Community, crew: dict[str, dict[str, Any]]
) -> None:
    assert resolve(provision, community, accounts=[crew["dan"]["uuid"], crew["bob"]["uuid"]]) == [
        crew["dan"]["unit"],
        crew["bob"]["unit"],
    ]


def test_order_is_kept_users_first_then_accounts(
    provision: Provisioner, community: Community, crew: dict[str, dict[str, Any]]
) -> None:
    resolved = resolve(
        provision,
        community,
        users=["license:cat", "license:ann"],
        accounts=[crew["dan"]["uuid"], crew["bob"]["uuid"]],
    )
    assert resolved == [crew[name]["unit"] for name in ("cat", "ann", "dan", "bob")]


def test_duplicates_are_removed_keeping_the_first_place(
    provision: Provisioner, community: Community, crew: dict[str, dict[str, Any]]
) -> None:
    resolved = resolve(
        provision,
        community,
        users=["license:bob", "license:ann", "license:bob"],
        accounts=[crew["ann"]["uuid"], crew["bob"]["uuid"], crew["cat"]["uuid"]],
    )
    assert resolved == [crew["bob"]["unit"], crew["ann"]["unit"], crew["cat"]["unit"]]


def test_targets_that_resolve_to_nothing_are_dropped(
    provision: Provisioner, community: Community, crew: dict[str, dict[str, Any]]
) -> None:
    resolved = resolve(
        provision,
        community,
        users=["license:nobody", "license:ann", "license:eve", "dan", ""],
        accounts=["00000000-0000-4000-8000-000000000000", crew["eve"]["uuid"], crew["cat"]["uuid"]],
    )
    assert resolved == [crew["ann"]["unit"], crew["cat"]["unit"]]


def test_no_targets_resolve_to_no_units(provision: Provisioner, community: Community) -> None:
    assert resolve(provision, community) == []


def test_the_unit_selected_on_the_asked_server_is_used(provision: Provisioner, community: Community) -> None:
    account = provision.account(community, "two", community_user_id="license:two")
    on_two = provision.unit(community, account["uuid"], server_id=2)
    assert resolve(provision, community, server_id=1, users=["license:two"]) == []
    assert resolve(provision, community, server_id=2, users=["license:two"]) == [on_two]
    on_one = provision.unit(community, account["uuid"], server_id=1)
    assert resolve(provision, community, server_id=1, users=["license:two"]) == [on_one]
    assert resolve(provision, community, server_id=2, accounts=[account["uuid"]]) == [on_two]


def test_the_newest_unit_is_selected_and_selection_can_change(
    provision: Provisioner, community: Community
) -> None:
    account = provision.account(community, "multi", community_user_id="license:multi")
    first = provision.unit(community, account["uuid"], unit_num="1A-01")
    second = provision.unit(community, account["uuid"], unit_num="1A-02")
    assert resolve(provision, community, users=["license:multi"]) == [second]
    with provision.db.transaction() as conn:
        units.select_unit(
            conn,
            community_id=community.community_id,
            account_uuid=account["uuid"],
            server_id=1,
            ident_id=first,
        )
    assert resolve(provision, community, users=["license:multi"]) == [first]


def test_another_communitys_users_and_accounts_never_resolve(
    provision: Provisioner, community: Community, crew: dict[str, dict[str, Any]]
) -> None:
    other = provision.community("Other")
    # The same in-game identifier may be linked in both communities; each resolves to its own unit.
    theirs = provision.account(other, "ann", community_user_id="license:ann")
    their_unit = provision.unit(other, theirs["uuid"])
    assert resolve(provision, other, users=["license:ann"]) == [their_unit]
    assert resolve(provision, community, users=["license:ann"]) == [crew["ann"]["unit"]]
    assert resolve(provision, other, accounts=[crew["bob"]["uuid"]]) == []
    assert resolve(provision, community, accounts=[theirs["uuid"]]) == []


# -- accounts and units ------------------------------------------------------------------------------


def create_account(provision: Provisioner, community_id: str, username: str, user_id: str | None) -> Any:
    with provision.db.transaction() as conn:
        return units.create_account(
            conn, community_id=community_id, username=username, now=0, community_user_id=user_id
        )


def test_an_account_gets_a_uuid_and_a_secret_shown_once(provision: Provisioner, community: Community) -> None:
    created = create_account(provision, community.community_id, "new", "license:new")
    assert created.account_uuid != created.secret_uuid
    with provision.db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM accounts WHERE account_uuid = :uuid"), {"uuid": created.account_uuid}
        ).one()
    # The secret proves ownership when linking, so it is kept only as a hash.
    assert not any(created.secret_uuid in str(value) for value in row)


@pytest.mark.parametrize(
    ("username", "user_id", "named"),
    [("   ", None, "username"), ("", "license:x", "username"), ("long", "x" * 256, "communityUserId")],
)
def test_account_input_is_checked(
    provision: Provisioner, community: Community, username: str, user_id: str | None, named: str
) -> None:
    before = provision.row_counts()
    with pytest.raises(InvalidInput) as refused:
        create_account(provision, community.community_id, username, user_id)
    assert named in refused.value.fields
    assert provision.row_counts() == before


def test_usernames_and_user_ids_are_unique_within_a_community_only(
    provision: Provisioner, community: Community
) -> None:
    create_account(provision, community.community_id, "ann", "license:ann")
    with pytest.raises(Conflict):
        create_account(provision, community.community_id, "ann", "license:other")
    with pytest.raises(Conflict):
        create_account(provision, community.community_id, "other", "license:ann")
    other = provision.community("Other")
    create_account(provision, other.community_id, "ann", "license:ann")
    assert provision.scalar("SELECT count(*) FROM accounts") == 2


def test_an_account_in_an_unknown_community_is_refused(provision: Provisioner) -> None:
    with pytest.raises(NotFound):
        create_account(provision, "no-such-community", "ann", None)


def test_a_unit_needs_an_account_and_a_server_of_the_same_community(
    provision: Provisioner, community: Community
) -> None:
    account = provision.account(community, "ann")
    other = provision.community("Other")
    for community_id, account_uuid, server_id in [
        (other.community_id, account["uuid"], 1),  # the account is not the other community's
        (community.community_id, "00000000-0000-4000-8000-000000000000", 1),
        (community.community_id, account["uuid"], 3),  # the community has servers 1 and 2
    ]:
        with pytest.raises(NotFound), provision.db.transaction() as conn:
            units.create_unit(
                conn, community_id=community_id, account_uuid=account_uuid, server_id=server_id, now=0
            )
    assert provision.scalar("SELECT count(*) FROM identifiers") == 0


def test_every_target_kind_resolves_in_one_order_each_unit_once(
    provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    dan = provision.account(community, "dan")["uuid"]
    dan_unit = provision.unit(community, dan)
    set_group(provision, dan_unit, "CAR-51")
    targets = Targets(
        identIds=[crew.units["bob"], crew.units["cid"]],  # Cid's unit is on server 2: left out
        groupName="CAR-51",
        roblox="4455",
        accounts=[crew.uuids["bob"], "no-such-account"],
        units=["license:unknown", LICENSE],
    )
    with provision.db.transaction() as conn:
        resolved = units.resolve_targets(
            conn, community_id=community.community_id, server_id=1, targets=targets
        )
        on_two = units.resolve_targets(
            conn,
            community_id=community.community_id,
            server_id=2,
            targets=Targets(communityUserId="license:cid", apiIds=["steam:ann"]),
        )
        named = units.accounts_named(
            conn, community_id=community.community_id, targets=Targets(apiId="steam:ann", discord="111222333")
        )
    # In-game ids first, then accounts, Discord/Roblox, the group, identIds.
    assert resolved == [crew.units["ann"], crew.units["bob"], dan_unit]
    assert on_two == [crew.units["cid"]]  # Ann has no unit on server 2
    assert named == [crew.uuids["ann"]]


def test_an_api_id_of_another_community_names_nobody(provision: Provisioner, community: Community) -> None:
    make_crew(provision, community)
    other = provision.community("Other")
    with provision.db.transaction() as conn:
        for targets in (Targets(apiId="steam:ann"), Targets(discord="111222333"), Targets(roblox="4455")):
            assert units.accounts_named(conn, community_id=other.community_id, targets=targets) == []
