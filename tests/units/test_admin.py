"""The operator's rules of units: every unit of a community with its account and servers, and changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from opendispatch.errors import InvalidInput, NotFound
from opendispatch.units import service
from opendispatch.units.schemas import IdentifierChanges
from tests.support import Community, Provisioner, every_row_count

T = TypeVar("T")


@pytest.fixture
def tx(provision: Provisioner) -> Callable[..., Any]:
    """Run one service function in its own committed transaction."""

    def run(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with provision.db.transaction() as conn:
            return work(conn, *args, **kwargs)

    return run


def test_unit_records_are_scoped_and_filtered(
    tx: Callable[..., Any], provision: Provisioner, community: Community
) -> None:
    other = provision.community("Bravo")
    ann = provision.account(community, "ann", "license:ann")
    bob = provision.account(community, "bob")
    eve = provision.account(other, "eve")
    first = provision.unit(community, ann["uuid"], 1, "1A")
    second = provision.unit(community, bob["uuid"], 2, "2B")
    foreign = provision.unit(other, eve["uuid"], 1, "9Z")
    cid = community.community_id
    every = tx(service.unit_records, community_id=cid)
    assert [(one.identId, one.username, one.selectedOn, one.unitNum) for one in every] == [
        (first, "ann", [1], "1A"),
        (second, "bob", [2], "2B"),
    ]
    assert every[0].communityUserId == "license:ann" and every[0].callId is None
    assert [one.identId for one in tx(service.unit_records, community_id=cid, server_id=2)] == [second]
    assert [one.identId for one in tx(service.unit_records, community_id=cid, account_uuid=ann["uuid"])] == [
        first
    ]
    assert [one.identId for one in tx(service.unit_records, community_id=cid, limit=1)] == [first]
    with pytest.raises(NotFound):
        tx(service.unit_record, community_id=cid, ident_id=foreign)
    with pytest.raises(NotFound):
        tx(service.unit_records, community_id=cid, account_uuid=eve["uuid"])
    with pytest.raises(NotFound):
        tx(service.unit_records, community_id=cid, server_id=9)
    with pytest.raises(NotFound):
        tx(service.unit_records, community_id="nope")


def test_change_unit_changes_the_fields_given_and_selects_it(
    tx: Callable[..., Any], provision: Provisioner, community: Community
) -> None:
    other = provision.community("Bravo")
    ann = provision.account(community, "ann")
    eve = provision.account(other, "eve")
    first = provision.unit(community, ann["uuid"], 1, "1A")
    foreign = provision.unit(other, eve["uuid"], 1, "9Z")
    cid = community.community_id
    changes = IdentifierChanges.model_validate({"name": "Ann", "rank": "Sgt"})
    changed = tx(service.change_unit, community_id=cid, ident_id=first, changes=changes, now=1, select_on=2)
    assert (changed.unitNum, changed.name, changed.rank, changed.selectedOn) == ("1A", "Ann", "Sgt", [1, 2])
    assert tx(service.unit_record, community_id=cid, ident_id=first) == changed
    before = every_row_count(provision)
    with pytest.raises(NotFound):
        tx(service.change_unit, community_id=cid, ident_id=foreign, changes=changes, now=2)
    with pytest.raises(NotFound):
        tx(service.change_unit, community_id=cid, ident_id=first, changes=changes, now=2, select_on=9)
    assert every_row_count(provision) == before
    assert tx(service.unit_record, community_id=other.community_id, ident_id=foreign).name == ""
    with pytest.raises(InvalidInput):
        tx(service.create_account, community_id=cid, username="x", now=0, roles={"chief"})
