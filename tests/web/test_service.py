"""The console's rules, called straight on a connection: passwords, sessions, the map, nearest units,
dispatch calls made from 911 calls, the board, and location snapshots (decoded and looked at)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Connection, select

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import NewDispatchCall, NewEmergencyCall
from opendispatch.communities import service as communities
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.history.schemas import Actor
from opendispatch.units import service as units
from opendispatch.units.schemas import LocationUpdate, UnitLocations, UnitStatusChange
from opendispatch.web import board, maps, sessions
from opendispatch.web.models import console_sessions
from opendispatch.web.schemas import CallPoint, ConsoleNewDispatchCall
from tests.support import Community, Provisioner
from tests.web.support import PASSWORD

NOW = 1_800_000_000_000
ALICE = Actor("user", "alice", community_user_id="license:alice", api_ids=("license:alice",))


@pytest.fixture
def conn(provision: Provisioner, community: Community) -> Iterator[Connection]:
    # One transaction for the whole test: everything below is made on it, nothing else writes meanwhile.
    with provision.db.transaction() as connection:
        yield connection


def other_community(conn: Connection) -> str:
    return communities.create_community(conn, name="Other", now=NOW, servers_count=1).community_id


def make_dispatcher(
    conn: Connection, community: Community, username: str, user_id: str | None = None
) -> None:
    units.create_account(
        conn, community_id=community.community_id, username=username, now=NOW, community_user_id=user_id
    )
    sessions.set_password(
        conn,
        community_id=community.community_id,
        username=username,
        password_hash=sessions.hash_password(PASSWORD),
    )


def new_911(conn: Connection, community: Community, server_id: int = 1, **meta: str) -> int:
    call = NewEmergencyCall(
        isEmergency=True,
        caller="Jane",
        location="Alta St",
        description="Shots fired\nbehind the bank",
        metaData=meta,
    )
    created = calls.open_emergency_call(
        conn, community_id=community.community_id, server_id=server_id, call=call, now=NOW, actor=ALICE
    )
    return created.callId


def new_dispatch(conn: Connection, community: Community, **meta: str) -> int:
    call = NewDispatchCall(
        origin=0,
        status=1,
        priority=2,
        block="",
        address="Mission Row",
        postal="",
        title="Robbery",
        code="211",
        description="",
        notes=[],
        communityUserIds=[],
        metaData=meta,
    )
    created = calls.open_dispatch_call(
        conn, community_id=community.community_id, server_id=1, call=call, now=NOW, actor=ALICE
    )
    return created.callId


def unit_at(
    conn: Connection, community: Community, name: str, x: float | None, y: float | None, status: int = 2
) -> int:
    account = units.create_account(conn, community_id=community.community_id, username=name, now=NOW)
    ident = units.create_unit(
        conn,
        community_id=community.community_id,
        account_uuid=account.account_uuid,
        server_id=1,
        now=NOW,
        unit_num=name,
    )
    units.set_unit_status(
        conn,
        community_id=community.community_id,
        server_id=1,
        change=UnitStatusChange(identIds=[ident], status=status),
        now=NOW,
        actor=ALICE,
    )
    if x is not None and y is not None:
        update = LocationUpdate(identId=ident, coordinates={"x": x, "y": y})  # type: ignore[arg-type]
        units.update_unit_locations(
            conn,
            community_id=community.community_id,
            server_id=1,
            updates=UnitLocations(updates=[update]),
            now=NOW,
        )
    return ident


# -- passwords and sessions ------------------------------------------------------------------------------


def test_passwords_are_argon2id_hashes_that_verify_only_the_right_password() -> None:
    hashed = sessions.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert sessions.verify_password(hashed, PASSWORD) == (True, False)
    assert sessions.verify_password(hashed, PASSWORD + "!") == (False, False)
    assert sessions.verify_password(None, PASSWORD) == (False, False)  # no password set: never a match
    assert sessions.verify_password("not a hash", PASSWORD) == (False, False)


def test_an_unknown_username_costs_what_a_wrong_password_costs() -> None:
    # The hash verified in place of a missing one has the parameters every new hash gets.
    assert sessions._DUMMY_HASH.startswith("$argon2id$")
    assert not sessions._hasher.check_needs_rehash(sessions._DUMMY_HASH)


def test_password_rules() -> None:
    with pytest.raises(InvalidInput):
        sessions.check_password_rules("short")
    with pytest.raises(InvalidInput):
        sessions.check_password_rules("x" * 1025)
    sessions.check_password_rules("eight ch")


def test_only_accounts_with_a_password_are_dispatchers(conn: Connection, community: Community) -> None:
    units.create_account(conn, community_id=community.community_id, username="bob", now=NOW)
    assert sessions.find_dispatcher(conn, community_id=community.community_id, username="bob") is None
    assert sessions.find_dispatcher(conn, community_id=community.community_id, username="nobody") is None
    with pytest.raises(NotFound):
        sessions.set_password(conn, community_id=community.community_id, username="nobody", password_hash="x")
    sessions.set_password(conn, community_id=community.community_id, username="bob", password_hash="h")
    found = sessions.find_dispatcher(conn, community_id=community.community_id, username=" bob ")
    assert found is not None and found.password_hash == "h"
    assert sessions.find_dispatcher(conn, community_id=other_community(conn), username="bob") is None


def test_a_session_is_a_hashed_token_that_expires_and_ends(conn: Connection, community: Community) -> None:
    make_dispatcher(conn, community, "alice", "license:alice")
    found = sessions.find_dispatcher(conn, community_id=community.community_id, username="alice")
    assert found is not None
    token, expires_at = sessions.open_session(conn, dispatcher=found, now=NOW)
    assert expires_at == NOW + sessions.SESSION_MS
    stored = conn.execute(select(console_sessions.c.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1  # only a hash of the token is kept

    user = sessions.session_user(conn, token=token, now=NOW + 1000)
    assert user is not None
    assert (user.community_id, user.username, user.community_user_id) == (
        community.community_id,
        "alice",
        "license:alice",
    )
    assert user.actor == Actor("user", "alice", community_user_id="license:alice", api_ids=("license:alice",))
    assert user.csrf_token == sessions.csrf_token(token) and user.csrf_token != token
    assert sessions.session_user(conn, token=token + "x", now=NOW) is None
    assert sessions.session_user(conn, token=token, now=expires_at) is None  # expired

    second, _ = sessions.open_session(conn, dispatcher=found, now=NOW)
    assert sessions.csrf_token(second) != user.csrf_token  # each session has its own CSRF token
    sessions.close_session(conn, token_hash=user.token_hash)
    assert sessions.session_user(conn, token=token, now=NOW) is None
    assert sessions.session_user(conn, token=second, now=NOW) is not None
    # A new password ends every session of the account.
    sessions.set_password(conn, community_id=community.community_id, username="alice", password_hash="new")
    assert sessions.session_user(conn, token=second, now=NOW) is None


def test_a_rehash_replaces_the_stored_hash_at_login(conn: Connection, community: Community) -> None:
    make_dispatcher(conn, community, "alice")
    found = sessions.find_dispatcher(conn, community_id=community.community_id, username="alice")
    assert found is not None
    sessions.open_session(conn, dispatcher=found, now=NOW, new_hash="$argon2id$stronger")
    again = sessions.find_dispatcher(conn, community_id=community.community_id, username="alice")
    assert again is not None and again.password_hash == "$argon2id$stronger"


# -- map images ------------------------------------------------------------------------------------------


def png(width: int = 40, height: int = 30, colour: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def test_bounds_are_four_numbers_spanning_an_area() -> None:
    assert maps.parse_bounds("-1500, 500,1500,-2500") == (-1500.0, 500.0, 1500.0, -2500.0)
    for bad in ("1,2,3", "1,2,3,4,5", "a,b,c,d", "0,0,0,5", "0,1,5,1", "nan,0,1,1", ""):
        with pytest.raises(InvalidInput):
            maps.parse_bounds(bad)


def test_a_map_image_is_kept_per_server_and_replaced_or_cleared(
    conn: Connection, community: Community
) -> None:
    image = png()
    info = maps.set_map(
        conn, community_id=community.community_id, server_id=1, image=image, bounds=(0, 10, 10, 0), now=NOW
    )
    assert (info.width, info.height, info.bounds) == (40, 30, [0.0, 10.0, 10.0, 0.0])
    assert info.imageUrl == f"/console/api/servers/1/map/image?v={NOW}"
    stored = maps.map_image(conn, community_id=community.community_id, server_id=1)
    assert (stored.image, stored.content_type) == (image, "image/png")
    assert maps.map_info(conn, community_id=community.community_id, server_id=2) is None

    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    maps.set_map(
        conn,
        community_id=community.community_id,
        server_id=1,
        image=jpeg.getvalue(),
        bounds=(0, 1, 1, 0),
        now=NOW + 1,
    )
    assert maps.map_image(conn, community_id=community.community_id, server_id=1).content_type == "image/jpeg"
    assert maps.map_version(conn, community_id=community.community_id, server_id=1) == NOW + 1

    other = other_community(conn)
    with pytest.raises(NotFound):
        maps.map_image(conn, community_id=other, server_id=1)
    with pytest.raises(NotFound):
        maps.set_map(conn, community_id=other, server_id=2, image=image, bounds=(0, 1, 1, 0), now=NOW)
    maps.clear_map(conn, community_id=community.community_id, server_id=1)
    assert maps.map_info(conn, community_id=community.community_id, server_id=1) is None


def test_only_readable_images_of_a_sane_size_are_taken() -> None:
    with pytest.raises(InvalidInput, match="readable"):
        maps.inspect_image(b"hello")
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    with pytest.raises(InvalidInput, match="GIF"):
        maps.inspect_image(gif.getvalue())
    with pytest.raises(InvalidInput, match="8192"):
        maps.inspect_image(png(8193, 2))
    assert maps.inspect_image(png(8, 4)) == ("image/png", 8, 4)


# -- where calls are, and the units nearest to them ------------------------------------------------------


def test_a_calls_point_comes_from_its_metadata() -> None:
    assert maps.point_of({"x": "1.5", "y": "-2", "radius": "30"}) == CallPoint(x=1.5, y=-2.0, radius=30.0)
    assert maps.point_of({"x": "1", "y": "2", "radius": "-4"}) == CallPoint(x=1.0, y=2.0, radius=None)
    for meta in ({}, {"x": "1"}, {"x": "a", "y": "2"}, {"x": "inf", "y": "2"}, {"x": "nan", "y": "1"}):
        assert maps.point_of(meta) is None


def test_nearest_units_are_available_free_units_with_coordinates_nearest_first(
    conn: Connection, community: Community
) -> None:
    call_id = new_dispatch(conn, community, x="100", y="100")
    far = unit_at(conn, community, "far", 400, 500)
    near = unit_at(conn, community, "near", 110, 90)
    middle = unit_at(conn, community, "middle", -50, 100)
    unit_at(conn, community, "busy", 100, 101, status=1)
    unit_at(conn, community, "offline", 100, 101, status=0)
    unit_at(conn, community, "nowhere", None, None)
    engaged = unit_at(conn, community, "engaged", 100, 100)
    other_call = new_dispatch(conn, community, x="0", y="0")
    calls.attach_units(
        conn,
        community_id=community.community_id,
        server_id=1,
        call_id=other_call,
        ident_ids=[engaged],
        now=NOW,
        actor=ALICE,
    )

    found = board.nearest_units(conn, community_id=community.community_id, server_id=1, call_id=call_id)
    assert (found.x, found.y) == (100.0, 100.0)
    assert [unit.identId for unit in found.units] == [near, middle, far]
    assert [unit.distance for unit in found.units] == [14.1, 150.0, 500.0]
    limited = board.nearest_units(
        conn, community_id=community.community_id, server_id=1, call_id=call_id, limit=1
    )
    assert [unit.identId for unit in limited.units] == [near]

    attached = board.attach_nearest(
        conn, community_id=community.community_id, server_id=1, call_id=call_id, now=NOW, actor=ALICE
    )
    assert attached.identIds == [near]
    again = board.nearest_units(conn, community_id=community.community_id, server_id=1, call_id=call_id)
    assert [unit.identId for unit in again.units] == [middle, far]  # it is on a call now


def test_nearest_units_need_a_call_with_coordinates_on_the_server(
    conn: Connection, community: Community
) -> None:
    no_point = new_dispatch(conn, community)
    emergency = new_911(conn, community, x="5", y="5")
    with pytest.raises(Conflict, match="no x/y"):
        board.nearest_units(conn, community_id=community.community_id, server_id=1, call_id=no_point)
    with pytest.raises(Conflict):
        board.attach_nearest(
            conn,
            community_id=community.community_id,
            server_id=1,
            call_id=new_dispatch(conn, community, x="1", y="1"),
            now=NOW,
            actor=ALICE,
        )  # no unit has reported a position
    # A 911 call has nearest units in the console, but is not a dispatch call for the v2 endpoint.
    assert (
        board.nearest_units(conn, community_id=community.community_id, server_id=1, call_id=emergency).units
        == []
    )
    with pytest.raises(NotFound):
        board.nearest_units(
            conn, community_id=community.community_id, server_id=1, call_id=emergency, dispatch_only=True
        )
    other = other_community(conn)
    for server_id in (1, 2):
        with pytest.raises(NotFound):
            board.nearest_units(conn, community_id=other, server_id=server_id, call_id=emergency)
    with pytest.raises(NotFound):
        board.nearest_units(conn, community_id=community.community_id, server_id=2, call_id=emergency)


# -- dispatch calls made from 911 calls, and the board ---------------------------------------------------


def test_a_draft_is_prefilled_from_the_911_calls_metadata(conn: Connection, community: Community) -> None:
    call_id = new_911(
        conn,
        community,
        postal="9001",
        block="100",
        code="10-71",
        priority="3",
        x="1",
        y="2",
        z="3",
        radius="40",
        phone="555-0100",
    )
    draft = board.dispatch_draft(conn, community_id=community.community_id, server_id=1, call_id=call_id)
    assert (draft.postal, draft.block, draft.code, draft.priority) == ("9001", "100", "10-71", 3)
    assert (draft.address, draft.title, draft.sourceCallId) == ("Alta St", "Shots fired", call_id)
    assert draft.description == "Shots fired\nbehind the bank"
    assert draft.metaData == {"x": "1", "y": "2", "z": "3", "radius": "40"}
    assert draft.notes == [{"label": "911", "type": "text", "content": "Caller: Jane"}]
    plain = board.dispatch_draft(
        conn, community_id=community.community_id, server_id=1, call_id=new_911(conn, community, priority="9")
    )
    assert (plain.postal, plain.code, plain.priority, plain.metaData) == ("", "", 1, {})  # emergency: 1
    with pytest.raises(NotFound):
        board.dispatch_draft(conn, community_id=community.community_id, server_id=2, call_id=call_id)


def console_call(**fields: Any) -> ConsoleNewDispatchCall:
    body = {
        "origin": 0,
        "status": 1,
        "priority": 1,
        "block": "",
        "address": "Alta St",
        "postal": "9001",
        "title": "Shots fired",
        "code": "10-71",
        "description": "",
        "notes": [],
        "communityUserIds": [],
    }
    return ConsoleNewDispatchCall.model_validate({**body, **fields})


def test_a_dispatch_call_from_a_911_call_is_linked_and_can_take_it_off_the_queue(
    conn: Connection, community: Community
) -> None:
    source = new_911(conn, community, x="1", y="2")
    unit = unit_at(conn, community, "u1", 0, 0)
    created = board.open_dispatch_call(
        conn,
        community_id=community.community_id,
        server_id=1,
        call=console_call(sourceCallId=source, removeSource=True, identIds=[unit]),
        now=NOW,
        actor=ALICE,
    )
    assert created.idents == [unit] and created.primary == unit
    shown = board.board(
        conn, community_id=community.community_id, server_id=1, closed_limit=10, closed_offset=0, now=NOW
    )
    assert shown.emergencyCalls == []
    (active,) = shown.activeCalls
    assert active.sourceCallId == source and active.createdMs == NOW
    dispatch_history = calls.dispatch_call_history(
        conn, community_id=community.community_id, server_id=1, call_id=created.callId
    )
    assert dispatch_history.entries[0].details["sourceCallId"] == source
    assert {entry.actor["name"] for entry in dispatch_history.entries} == {"alice"}
    detail = board.call_detail(conn, community_id=community.community_id, server_id=1, call_id=created.callId)
    assert detail.kind == "dispatch" and detail.dispatch is not None
    assert detail.dispatch.sourceCallId == source and detail.point is None


def test_a_link_to_a_911_call_elsewhere_stores_nothing(provision: Provisioner, community: Community) -> None:
    with provision.db.transaction() as conn:
        on_two = new_911(conn, community, server_id=2)
    before = provision.row_counts()
    with pytest.raises(NotFound), provision.db.transaction() as conn:
        board.open_dispatch_call(
            conn,
            community_id=community.community_id,
            server_id=1,
            call=console_call(sourceCallId=on_two),
            now=NOW,
            actor=ALICE,
        )
    assert provision.row_counts() == before


def test_the_911_queue_is_newest_first_and_shows_what_was_made_of_each_call(
    conn: Connection, community: Community
) -> None:
    first = new_911(conn, community)
    second = new_911(conn, community, x="4", y="5")
    made = board.open_dispatch_call(
        conn,
        community_id=community.community_id,
        server_id=1,
        call=console_call(sourceCallId=first),
        now=NOW,
        actor=ALICE,
    )
    offline = unit_at(conn, community, "off", None, None, status=0)
    shown = board.board(
        conn, community_id=community.community_id, server_id=1, closed_limit=10, closed_offset=0, now=NOW
    )
    assert [call.callId for call in shown.emergencyCalls] == [second, first]
    assert shown.emergencyCalls[1].dispatchCallIds == [made.callId]
    assert offline in [unit.identId for unit in shown.units]  # the board lists offline units too
    detail = board.call_detail(conn, community_id=community.community_id, server_id=1, call_id=first)
    assert detail.kind == "emergency" and detail.point is None and detail.snapshotUrl is None
    assert [entry.action for entry in detail.history] == ["created", "dispatched"]
    pointed = board.call_detail(conn, community_id=community.community_id, server_id=1, call_id=second)
    assert pointed.snapshotUrl == f"/v2/emergency/servers/1/calls/{second}/snapshot.png"


def test_detaching_from_a_call_needs_the_unit_to_be_on_it(conn: Connection, community: Community) -> None:
    call_id = new_dispatch(conn, community)
    on_it = unit_at(conn, community, "on", None, None)
    elsewhere = unit_at(conn, community, "else", None, None)
    for ident, target in ((on_it, call_id), (elsewhere, new_dispatch(conn, community))):
        calls.attach_units(
            conn,
            community_id=community.community_id,
            server_id=1,
            call_id=target,
            ident_ids=[ident],
            now=NOW,
            actor=ALICE,
        )
    with pytest.raises(Conflict, match=str(elsewhere)):
        board.detach_from_call(
            conn,
            community_id=community.community_id,
            server_id=1,
            call_id=call_id,
            ident_ids=[elsewhere],
            now=NOW,
            actor=ALICE,
        )
    assert board.detach_from_call(
        conn,
        community_id=community.community_id,
        server_id=1,
        call_id=call_id,
        ident_ids=[on_it],
        now=NOW,
        actor=ALICE,
    ) == [on_it]
    assert board.attached_to(conn, community_id=community.community_id, server_id=1, call_id=call_id) == []


# -- location snapshots ----------------------------------------------------------------------------------

W, H = maps.SNAPSHOT_SIZE
CENTRE = (W // 2, H // 2)


def decoded(png_bytes: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png_bytes))
    assert image.format == "PNG" and image.size == maps.SNAPSHOT_SIZE
    return image.convert("RGB")


def test_a_snapshot_without_a_map_is_a_grid_with_the_marker_at_the_centre() -> None:
    image = decoded(maps.render_snapshot(CallPoint(x=425.1, y=-979.2, radius=None), None, label="#7"))
    assert image.getpixel(CENTRE) == maps.MARKER_COLOUR
    assert image.getpixel((CENTRE[0] + 5, CENTRE[1] - 5)) == maps.MARKER_COLOUR
    assert image.getpixel((10, 10)) != maps.MARKER_COLOUR
    colours = image.crop((0, 0, W, H - 24)).getcolors(maxcolors=W * H) or []
    assert len(colours) > 2  # grid lines over the background


def test_a_snapshot_draws_the_radius_as_a_circle() -> None:
    plain = decoded(maps.render_snapshot(CallPoint(x=0, y=0, radius=None), None))
    ringed = decoded(maps.render_snapshot(CallPoint(x=0, y=0, radius=100), None))
    # 500 game units span the 512 pixels: the ring of radius 100 is ~102 pixels right of the centre.
    scale = (W / 2) / maps.SNAPSHOT_HALF_SPAN
    ring = (int(CENTRE[0] + 100 * scale), CENTRE[1] + 3)
    assert ringed.getpixel(ring) != plain.getpixel(ring)
    inside = (CENTRE[0] + 50, CENTRE[1] + 40)
    assert ringed.getpixel(inside) != plain.getpixel(inside)  # the circle is filled, faintly


def test_a_snapshot_crops_the_map_image_north_up_around_the_call() -> None:
    # A 200x200 map of 0..1000 in x and y (y north): four quadrants of four colours.
    quadrants = {"nw": (200, 0, 0), "ne": (0, 200, 0), "sw": (0, 0, 200), "se": (200, 200, 0)}
    image = Image.new("RGB", (200, 200))
    image.paste(quadrants["nw"], (0, 0, 100, 100))
    image.paste(quadrants["ne"], (100, 0, 200, 100))
    image.paste(quadrants["sw"], (0, 100, 100, 200))
    image.paste(quadrants["se"], (100, 100, 200, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    stored = maps.MapImage(
        image=out.getvalue(), content_type="image/png", bounds=(0, 1000, 1000, 0), updated_at=1
    )
    base = maps.decode_map(stored)

    shot = decoded(maps.render_snapshot(CallPoint(x=500, y=500, radius=None), base))
    assert shot.getpixel(CENTRE) == maps.MARKER_COLOUR
    assert shot.getpixel((CENTRE[0] - 60, CENTRE[1] - 60)) == quadrants["nw"]
    assert shot.getpixel((CENTRE[0] + 60, CENTRE[1] - 60)) == quadrants["ne"]
    assert shot.getpixel((CENTRE[0] - 60, CENTRE[1] + 60)) == quadrants["sw"]
    assert shot.getpixel((CENTRE[0] + 60, CENTRE[1] + 60)) == quadrants["se"]

    # Near the north-east corner, what lies beyond the map is background, not a stretched edge.
    corner = decoded(maps.render_snapshot(CallPoint(x=990, y=990, radius=None), base))
    assert corner.getpixel((CENTRE[0] - 40, CENTRE[1] + 40)) == quadrants["ne"]
    assert corner.getpixel((CENTRE[0] + 100, CENTRE[1] - 100)) not in quadrants.values()


def test_a_large_map_is_scaled_down_once_for_snapshots() -> None:
    out = io.BytesIO()
    Image.new("RGB", (5000, 2500), (1, 2, 3)).save(out, format="PNG")
    base = maps.decode_map(maps.MapImage(out.getvalue(), "image/png", (0, 1, 1, 0), 1))
    assert base.image.size == (maps.SNAPSHOT_MAP_SIDE, maps.SNAPSHOT_MAP_SIDE // 2)


def test_locate_call_finds_live_calls_of_the_server_only(conn: Connection, community: Community) -> None:
    emergency = new_911(conn, community, x="1", y="2")
    dispatch = new_dispatch(conn, community, x="3", y="4", radius="5")
    located = maps.locate_call(conn, community_id=community.community_id, server_id=1, call_id=dispatch)
    assert (located.kind, located.point) == ("dispatch", CallPoint(x=3, y=4, radius=5))
    assert maps.locate_call(
        conn, community_id=community.community_id, server_id=1, call_id=emergency
    ).is_emergency
    calls.remove_emergency_call(
        conn, community_id=community.community_id, server_id=1, call_id=emergency, now=NOW, actor=ALICE
    )
    with pytest.raises(NotFound):
        maps.locate_call(conn, community_id=community.community_id, server_id=1, call_id=emergency)
    with pytest.raises(NotFound):
        maps.locate_call(conn, community_id=other_community(conn), server_id=1, call_id=dispatch)
