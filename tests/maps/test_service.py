"""The map's rules on a connection: the nearest postal is the true nearest wherever the point is, and the
blip counter hands out each id once."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection

from opendispatch.errors import InvalidInput, NotFound
from opendispatch.maps import service
from opendispatch.maps.schemas import BlipChanges, NewBlip, Postal
from tests.support import Community, Provisioner

NOW = 1_800_000_000_000


@pytest.fixture
def conn(provision: Provisioner, community: Community) -> Iterator[Connection]:
    with provision.db.transaction() as connection:
        yield connection


def test_the_nearest_postal_is_the_true_nearest_near_and_far(conn: Connection, community: Community) -> None:
    rng = random.Random(7)
    # Dense in a city, sparse in the country: a point may be far from every postal.
    points = [(rng.uniform(-500, 500), rng.uniform(-500, 500)) for _ in range(300)]
    points += [(rng.uniform(-9000, 9000), rng.uniform(-9000, 9000)) for _ in range(20)]
    postals = [Postal(code=f"{n:04}", x=x, y=y) for n, (x, y) in enumerate(points)]
    assert service.set_postals(conn, community_id=community.community_id, postal_list=postals).updated == 320
    for _ in range(200):
        x, y = rng.uniform(-20000, 20000), rng.uniform(-20000, 20000)
        if rng.random() < 0.5:
            x, y = x / 40, y / 40  # in the city
        best = min(postals, key=lambda postal: (math.hypot(postal.x - x, postal.y - y), postal.code))
        assert service.nearest_postal(conn, community.community_id, x, y) == best.code, (x, y)


def test_no_postal_list_means_no_nearest_postal(conn: Connection, community: Community) -> None:
    assert service.nearest_postal(conn, community.community_id, 0, 0) is None
    meta = {"x": "1", "y": "2"}
    assert service.with_postal(conn, community.community_id, meta) is meta


def test_postal_codes_are_found_as_written_in_the_list(conn: Connection, community: Community) -> None:
    service.set_postals(
        conn,
        community_id=community.community_id,
        postal_list=[Postal.model_validate({"code": 7, "x": 1, "y": 2})],
    )
    assert service.find_postal(conn, community_id=community.community_id, code=" 7 ").model_dump() == {
        "code": "7",
        "x": 1.0,
        "y": 2.0,
    }
    with pytest.raises(NotFound, match="'8'"):
        service.find_postal(conn, community_id=community.community_id, code="8")


def test_blip_ids_count_per_community_and_an_empty_change_is_refused(
    conn: Connection, community: Community
) -> None:
    new = NewBlip.model_validate({"coordinates": {"x": 1, "y": 2}})
    made = service.create_blips(
        conn, community_id=community.community_id, server_id=1, new=[new, new], now=NOW
    )
    assert [blip.id for blip in made] == [1, 2]
    with pytest.raises(InvalidInput, match="no field"):
        service.update_blip(
            conn, community_id=community.community_id, server_id=1, blip_id=1, changes=BlipChanges(), now=NOW
        )
    with pytest.raises(NotFound, match="Blip 3"):
        service.delete_blips(
            conn, community_id=community.community_id, server_id=None, blip_ids=[1, 3], now=NOW
        )
    assert [
        blip.id for blip in service.list_blips(conn, community_id=community.community_id, server_id=1)
    ] == [1, 2]
