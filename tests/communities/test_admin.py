"""The operator's rules of communities and keys: listing, changing, disabling, key labels, revocation by
prefix or label, and when a key was last used."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from opendispatch.communities import service
from opendispatch.communities.schemas import Plan
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.settings import Settings
from tests.support import (
    Community,
    InProcessServer,
    ManualClock,
    Provisioner,
    every_row_count,
    in_process_server,
)

T = TypeVar("T")
CALLS = "/v2/emergency/servers/1/calls"


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


@pytest.fixture
def uncached(settings: Settings, provision: Provisioner, clock: ManualClock) -> Iterator[InProcessServer]:
    with in_process_server(settings.model_copy(update={"key_cache_seconds": 0}), clock) as running:
        yield running


def test_communities_are_listed_with_their_servers_and_active_keys(
    tx: Callable[..., Any], community: Community, other: Community
) -> None:
    tx(service.create_api_key, community_id=community.community_id, now=0, label="bot")
    listed = tx(service.list_communities)
    assert [(one.communityId, one.servers, one.activeKeys) for one in listed] == [
        (community.community_id, 2, 2),
        (other.community_id, 1, 1),
    ]
    assert tx(service.community_summary, other.community_id) == listed[1]
    with pytest.raises(NotFound):
        tx(service.community_summary, "nope")


def test_change_community_changes_only_what_is_given(
    tx: Callable[..., Any], community: Community, other: Community
) -> None:
    changed = tx(service.change_community, community_id=community.community_id, plan=Plan.PLUS)
    assert (changed.name, changed.plan, changed.apiEnabled) == ("Alpha", "PLUS", True)
    changed = tx(
        service.change_community, community_id=community.community_id, name="  A2 ", api_enabled=False
    )
    assert (changed.name, changed.plan, changed.apiEnabled) == ("A2", "PLUS", False)
    assert tx(service.authenticate, community.api_key).api_enabled is False
    untouched = tx(service.community_summary, other.community_id)
    assert (untouched.name, untouched.plan, untouched.apiEnabled) == ("Bravo", "PRO", True)
    for bad in ("", " ", "x" * 256):
        with pytest.raises(InvalidInput):
            tx(service.change_community, community_id=community.community_id, name=bad)
    with pytest.raises(NotFound):
        tx(service.change_community, community_id="nope", name="x")
    assert tx(service.community_summary, community.community_id).name == "A2"


def test_a_disabled_communitys_keys_answer_as_for_a_switched_off_api(
    tx: Callable[..., Any], community: Community, other: Community
) -> None:
    disabled = tx(
        service.set_community_disabled, community_id=community.community_id, disabled=True, now=5000
    )
    assert disabled.disabled is True and disabled.disabledAt == "1970-01-01T00:00:05Z"
    assert disabled.apiEnabled is True  # the switch itself is kept for when it is enabled again
    assert tx(service.authenticate, community.api_key).api_enabled is False
    assert tx(service.authenticate, other.api_key).api_enabled is True
    tx(service.set_community_disabled, community_id=community.community_id, disabled=False, now=6000)
    assert tx(service.authenticate, community.api_key).api_enabled is True
    with pytest.raises(NotFound):
        tx(service.set_community_disabled, community_id="nope", disabled=True, now=0)


def test_keys_are_listed_by_prefix_and_label_never_whole(
    tx: Callable[..., Any], provision: Provisioner, community: Community
) -> None:
    later = provision.now() + 1000
    bot = tx(service.create_api_key, community_id=community.community_id, now=later, label="  bot ")
    keys = tx(service.list_api_keys, community_id=community.community_id)
    assert [(one.prefix, one.label) for one in keys] == [(community.api_key[:7], None), (bot[:7], "bot")]
    assert all(one.lastUsed is None and one.revoked is None for one in keys)
    assert not any(bot[7:] in one.model_dump_json() for one in keys)
    with pytest.raises(InvalidInput):
        tx(service.create_api_key, community_id=community.community_id, now=0, label="x" * 65)


def test_revoke_by_prefix_or_label_is_scoped_and_refuses_ambiguity(
    tx: Callable[..., Any], provision: Provisioner, community: Community, other: Community
) -> None:
    first = tx(service.create_api_key, community_id=community.community_id, now=1, label="twin")
    tx(service.create_api_key, community_id=community.community_id, now=2, label="twin")
    before = every_row_count(provision)
    cid = community.community_id
    with pytest.raises(Conflict, match="names 2 active keys"):
        tx(service.revoke_api_key, community_id=cid, now=3, label="twin")
    with pytest.raises(Conflict, match="names 3 active keys"):
        tx(service.revoke_api_key, community_id=cid, now=3, prefix="od")
    with pytest.raises(NotFound):  # another community's key, by prefix
        tx(service.revoke_api_key, community_id=cid, now=3, prefix=other.api_key[:7])
    with pytest.raises(NotFound):
        tx(service.revoke_api_key, community_id=cid, now=3, api_key=other.api_key)
    with pytest.raises(NotFound):
        tx(service.revoke_api_key, community_id="nope", now=3, prefix="od")
    with pytest.raises(InvalidInput):
        tx(service.revoke_api_key, community_id=cid, now=3, prefix=first[:8])
    with pytest.raises(InvalidInput):
        tx(service.revoke_api_key, community_id=cid, now=3)
    assert every_row_count(provision) == before
    assert provision.scalar("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL") == 0

    # A prefix is compared as written: keys differ in case, and so do their prefixes.
    swapped = first[:7].swapcase()
    if swapped != first[:7] and not community.api_key.startswith(swapped):
        with pytest.raises(NotFound):
            tx(service.revoke_api_key, community_id=cid, now=3, prefix=swapped)
    revoked = tx(service.revoke_api_key, community_id=cid, now=4000, prefix=community.api_key[:7])
    assert revoked.info.prefix == community.api_key[:7] and revoked.info.revoked == "1970-01-01T00:00:04Z"
    assert revoked.key_hash == service.hash_secret(community.api_key)
    assert tx(service.authenticate, community.api_key) is None
    assert tx(service.authenticate, first) is not None
    assert tx(service.authenticate, other.api_key) is not None


def test_last_used_is_written_at_most_once_a_minute(
    uncached: InProcessServer, tx: Callable[..., Any], community: Community, clock: ManualClock
) -> None:
    def last_used() -> str | None:
        [key] = tx(service.list_api_keys, community_id=community.community_id)
        return key.lastUsed

    assert last_used() is None
    with uncached.client(community.api_key) as http:
        assert http.get(CALLS).status_code == 200
        first = last_used()
        assert first is not None
        clock.advance(seconds=50)
        assert http.get(CALLS).status_code == 200
        assert last_used() == first  # not a write per request
        clock.advance(seconds=11)
        assert http.get(CALLS).status_code == 200
        assert last_used() is not None and last_used() != first
