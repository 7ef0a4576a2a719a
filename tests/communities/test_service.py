"""Rules of tenancy: communities, servers, API keys, rate-limit overrides, call ids and the key cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.communities import service
from opendispatch.communities.schemas import Plan, Principal
from opendispatch.errors import InvalidInput, NotFound
from tests.support import Community, Provisioner, every_row_count

T = TypeVar("T")


@pytest.fixture
def tx(provision: Provisioner) -> Callable[..., Any]:
    """Run one service function in its own committed transaction."""

    def run(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with provision.db.transaction() as conn:
            return work(conn, *args, **kwargs)

    return run


# -- communities and servers -------------------------------------------------------------------------


def test_a_new_community_has_its_servers_and_a_working_key(tx: Callable[..., Any]) -> None:
    created = tx(service.create_community, name="  Los Santos RP ", now=0, servers_count=3)
    assert created.servers == [1, 2, 3]
    principal = tx(service.authenticate, created.api_key)
    assert principal is not None
    assert principal.community_id == created.community_id
    assert principal.plan == Plan.PRO
    assert principal.api_enabled is True
    servers = tx(service.list_servers, created.community_id)
    assert [(server.id, server.name) for server in servers] == [(n, f"Server {n}") for n in (1, 2, 3)]


def test_communities_get_distinct_ids_and_keys_and_number_their_servers_from_one(
    tx: Callable[..., Any],
) -> None:
    first = tx(service.create_community, name="One", now=0, servers_count=2)
    second = tx(service.create_community, name="Two", now=0)
    assert first.community_id != second.community_id
    assert first.api_key != second.api_key
    assert second.servers == [1]
    assert tx(service.add_server, community_id=second.community_id, now=0, name="Paleto") == 2
    assert tx(service.add_server, community_id=first.community_id, now=0) == 3
    assert [s.name for s in tx(service.list_servers, second.community_id)] == ["Server 1", "Paleto"]


@pytest.mark.parametrize(
    ("name", "servers", "named"), [("", 1, "name"), ("   ", 1, "name"), ("X", 0, "servers")]
)
def test_a_community_needs_a_name_and_a_server(
    provision: Provisioner, tx: Callable[..., Any], name: str, servers: int, named: str
) -> None:
    before = every_row_count(provision)
    with pytest.raises(InvalidInput) as refused:
        tx(service.create_community, name=name, now=0, servers_count=servers)
    assert named in refused.value.fields
    assert every_row_count(provision) == before


def test_servers_belong_to_their_community(tx: Callable[..., Any], community: Community) -> None:
    other = tx(service.create_community, name="Other", now=0, servers_count=5)
    tx(service.require_server, community.community_id, 2)
    with pytest.raises(NotFound):
        tx(service.require_server, community.community_id, 5)
    tx(service.require_server, other.community_id, 5)
    with pytest.raises(NotFound):
        tx(service.add_server, community_id="no-such-community", now=0)


# -- API keys ----------------------------------------------------------------------------------------------


def test_keys_are_stored_only_as_hashes(provision: Provisioner, community: Community) -> None:
    with provision.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM api_keys").all()
    assert rows
    assert not any(community.api_key in str(value) for row in rows for value in row)


def test_an_unknown_key_authenticates_no_one(tx: Callable[..., Any], community: Community) -> None:
    assert tx(service.authenticate, "od_unknown") is None
    assert tx(service.authenticate, community.api_key + "x") is None
    assert tx(service.authenticate, "") is None


def test_keys_rotate_one_revoked_while_the_other_keeps_working(
    tx: Callable[..., Any], community: Community
) -> None:
    second = tx(service.create_api_key, community_id=community.community_id, now=0)
    assert second != community.api_key
    assert tx(service.authenticate, second).community_id == community.community_id
    tx(service.revoke_api_key, community_id=community.community_id, api_key=community.api_key, now=1)
    assert tx(service.authenticate, community.api_key) is None
    assert tx(service.authenticate, second).community_id == community.community_id
    with pytest.raises(NotFound):  # already revoked
        tx(service.revoke_api_key, community_id=community.community_id, api_key=community.api_key, now=2)


def test_a_community_cannot_revoke_another_communitys_key(
    tx: Callable[..., Any], community: Community
) -> None:
    other = tx(service.create_community, name="Other", now=0)
    with pytest.raises(NotFound):
        tx(service.revoke_api_key, community_id=community.community_id, api_key=other.api_key, now=1)
    assert tx(service.authenticate, other.api_key).community_id == other.community_id
    with pytest.raises(NotFound):
        tx(service.create_api_key, community_id="no-such-community", now=0)


# -- rate-limit overrides ------------------------------------------------------------------------------


def test_limit_overrides_reach_the_principal_and_the_effective_limits(
    tx: Callable[..., Any], community: Community
) -> None:
    other = tx(service.create_community, name="Other", now=0)
    tx(service.set_rate_limit, community_id=community.community_id, endpoint="get_calls", per_minute=30)
    tx(service.set_rate_limit, community_id=community.community_id, endpoint="get_calls", per_minute=12)
    tx(service.set_rate_limit, community_id=community.community_id, endpoint="create_911", per_minute=1)
    principal: Principal = tx(service.authenticate, community.api_key)
    assert principal.limits == {"get_calls": 12, "create_911": 1}
    assert tx(service.effective_limits, community.community_id) == {
        **DEFAULT_LIMITS,
        "get_calls": 12,
        "create_911": 1,
    }
    assert tx(service.effective_limits, None) == DEFAULT_LIMITS
    assert tx(service.effective_limits, other.community_id) == DEFAULT_LIMITS
    assert tx(service.authenticate, other.api_key).limits == {}


@pytest.mark.parametrize(
    ("endpoint", "per_minute", "named"),
    [("create_call", 5, "endpoint"), ("get_calls", 0, "perMinute"), ("get_calls", -3, "perMinute")],
)
def test_a_limit_needs_a_known_endpoint_and_at_least_one_request(
    tx: Callable[..., Any], community: Community, endpoint: str, per_minute: int, named: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        tx(
            service.set_rate_limit,
            community_id=community.community_id,
            endpoint=endpoint,
            per_minute=per_minute,
        )
    assert named in refused.value.fields
    assert tx(service.effective_limits, community.community_id) == DEFAULT_LIMITS


def test_limits_of_an_unknown_community_are_refused(tx: Callable[..., Any]) -> None:
    with pytest.raises(NotFound):
        tx(service.set_rate_limit, community_id="no-such-community", endpoint="get_calls", per_minute=5)
    with pytest.raises(NotFound):
        tx(service.effective_limits, "no-such-community")


# -- call ids ------------------------------------------------------------------------------------------


def test_call_ids_count_up_per_community(tx: Callable[..., Any], community: Community) -> None:
    other = tx(service.create_community, name="Other", now=0)

    def next_id(conn: Connection, community_id: str) -> int:
        return service.next_call_id(conn, community_id)

    ours = [tx(next_id, community.community_id) for _ in range(3)]
    theirs = [tx(next_id, other.community_id) for _ in range(2)]
    assert ours == [1, 2, 3]
    assert theirs == [1, 2]
    assert tx(next_id, community.community_id) == 4


# -- the key cache -----------------------------------------------------------------------------------------


PRINCIPAL = Principal(community_id="c", key_id=1, plan=4, api_enabled=True)


def test_the_key_cache_remembers_a_lookup_for_its_ttl_only() -> None:
    cache = service.KeyCache(2.0)
    assert cache.get("k", 0.0) == (False, None)
    cache.put("k", PRINCIPAL, 10.0)
    assert cache.get("k", 10.0) == (True, PRINCIPAL)
    assert cache.get("k", 11.9) == (True, PRINCIPAL)
    assert cache.get("k", 12.0) == (False, None)
    assert cache.get("other", 10.0) == (False, None)


def test_the_key_cache_remembers_unknown_keys_too() -> None:
    cache = service.KeyCache(2.0)
    cache.put("bad", None, 0.0)
    assert cache.get("bad", 1.0) == (True, None)
    assert cache.get("bad", 2.5) == (False, None)


def test_a_key_cache_with_no_ttl_remembers_nothing() -> None:
    cache = service.KeyCache(0)
    cache.put("k", PRINCIPAL, 0.0)
    assert cache.get("k", 0.0) == (False, None)
