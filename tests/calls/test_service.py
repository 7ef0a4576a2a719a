"""The call services with explicit times: create, list, page closed calls, remove past deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from opendispatch.calls import service
from opendispatch.calls.schemas import (
    CallListing,
    CallTableType,
    NewDispatchCall,
    NewEmergencyCall,
    parse_table_type,
)
from opendispatch.errors import NotFound
from opendispatch.history.schemas import Actor
from tests.support import Community, Provisioner, every_row_count, new_911, new_dispatch

T = TypeVar("T")
ACTOR = Actor("apiKey", "test")
MINUTE = 60_000
T0 = 1_775_683_800_000  # 2026-04-08T21:30:00Z


@pytest.fixture
def tx(provision: Provisioner) -> Callable[..., Any]:
    def run(work: Callable[..., T], **kwargs: Any) -> T:
        with provision.db.transaction() as conn:
            return work(conn, **kwargs)

    return run


@pytest.fixture
def calls(tx: Callable[..., Any], community: Community) -> Any:
    """Create and list calls of ``community`` at explicit times."""

    class Calls:
        def emergency(self, now: int = T0, server_id: int = 1, **fields: Any) -> Any:
            return tx(
                service.open_emergency_call,
                community_id=community.community_id,
                server_id=server_id,
                call=NewEmergencyCall.model_validate(new_911(**fields)),
                now=now,
                actor=ACTOR,
            )

        def dispatch(self, now: int = T0, server_id: int = 1, **fields: Any) -> Any:
            return tx(
                service.open_dispatch_call,
                community_id=community.community_id,
                server_id=server_id,
                call=NewDispatchCall.model_validate(new_dispatch(**fields)),
                now=now,
                actor=ACTOR,
            )

        def listing(
            self,
            server_id: int = 1,
            table_type: CallTableType = CallTableType.SEARCH_ALL,
            limit: int = 10,
            offset: int = 0,
        ) -> CallListing:
            return tx(
                service.list_calls,
                community_id=community.community_id,
                server_id=server_id,
                table_type=table_type,
                closed_limit=limit,
                closed_offset=offset,
            )

    return Calls()


def test_a_911_call_is_stored_and_listed_as_answered(calls: Any) -> None:
    created = calls.emergency(metaData={"phone": "555-0100", "radius": 75})
    assert created.updated == "2026-04-08T21:30:00Z"
    assert created.metaData == {"phone": "555-0100", "radius": "75"}
    assert calls.listing().emergencyCalls == [created]


def test_a_create_on_a_server_the_community_lacks_stores_nothing(provision: Provisioner, calls: Any) -> None:
    before = every_row_count(provision)
    with pytest.raises(NotFound):
        calls.emergency(server_id=3)
    with pytest.raises(NotFound):
        calls.dispatch(server_id=3)
    with pytest.raises(NotFound):
        calls.listing(server_id=3)
    assert every_row_count(provision) == before


def test_a_dispatch_call_gets_its_units_notes_and_primary(
    provision: Provisioner, community: Community, calls: Any
) -> None:
    ann = provision.account(community, "ann", community_user_id="license:ann")
    bob = provision.account(community, "bob")
    ann_unit = provision.unit(community, ann["uuid"])
    bob_unit = provision.unit(community, bob["uuid"])
    created = calls.dispatch(
        communityUserIds=["license:ann"],
        accounts=[bob["uuid"]],
        notes=[{"content": "first"}, {"content": "second", "time": "2026-04-08T21:00:00Z", "label": "L"}],
    )
    assert created.idents == [ann_unit, bob_unit]
    assert created.primary == ann_unit
    assert created.trackPrimary is False
    assert [(n.time, n.label, n.type, n.content) for n in created.notes] == [
        ("2026-04-08T21:30:00Z", "", "text", "first"),
        ("2026-04-08T21:00:00Z", "L", "text", "second"),
    ]
    assert calls.listing().activeCalls == [created]


def test_closed_calls_come_most_recently_closed_first_whatever_their_ids(calls: Any) -> None:
    # Created closed, at times out of id order: the page follows the closing time.
    first = calls.dispatch(status=2, now=T0 + 5 * MINUTE)
    second = calls.dispatch(status=2, now=T0 + 1 * MINUTE)
    third = calls.dispatch(status=2, now=T0 + 9 * MINUTE)
    page = calls.listing()
    assert [c.callId for c in page.closedCalls] == [third.callId, first.callId, second.callId]
    assert [c.callId for c in calls.listing(limit=1, offset=1).closedCalls] == [first.callId]


def test_calls_closed_later_are_listed_by_when_they_were_closed(
    tx: Callable[..., Any], community: Community, calls: Any
) -> None:
    early, late = calls.dispatch(status=1), calls.dispatch(status=1)
    for call_id, at in ((late.callId, T0 + MINUTE), (early.callId, T0 + 2 * MINUTE)):
        tx(
            service.close_calls,
            community_id=community.community_id,
            server_id=1,
            call_ids=[call_id],
            now=at,
            actor=ACTOR,
        )
    listing = calls.listing()
    assert [c.callId for c in listing.closedCalls] == [early.callId, late.callId]
    assert listing.closedCallCount == 2
    assert listing.activeCalls == []


def test_closed_call_count_is_per_server_and_not_limited_by_the_page(calls: Any) -> None:
    for _ in range(4):
        calls.dispatch(status=2)
    calls.dispatch(status=2, server_id=2)
    calls.dispatch(status=0)
    assert calls.listing(limit=2).closedCallCount == 4
    assert len(calls.listing(limit=2).closedCalls) == 2
    assert calls.listing(server_id=2).closedCallCount == 1


@pytest.mark.parametrize(
    ("table_type", "kinds"),
    [
        (CallTableType.DISPATCH_CALL, {"activeCalls", "closedCalls"}),
        (CallTableType.EMERGENCY_CALL, {"emergencyCalls"}),
        (CallTableType.SEARCH_ALL, {"activeCalls", "closedCalls", "emergencyCalls"}),
    ],
)
def test_the_table_type_decides_which_lists_are_filled(
    calls: Any, table_type: CallTableType, kinds: set[str]
) -> None:
    calls.emergency()
    calls.dispatch(status=1)
    calls.dispatch(status=2)
    listing = calls.listing(table_type=table_type)
    filled = {name for name in ("activeCalls", "closedCalls", "emergencyCalls") if getattr(listing, name)}
    assert filled == kinds


def test_calls_past_their_deadline_are_removed_once_and_only_those(
    tx: Callable[..., Any], community: Community, calls: Any
) -> None:
    doomed_911 = calls.emergency(deleteAfterMinutes=15)
    doomed_closed = calls.dispatch(status=2, deleteAfterMinutes=15, server_id=2)
    later = calls.emergency(deleteAfterMinutes=16)
    forever = calls.dispatch(status=2)
    cid = community.community_id

    early = tx(service.remove_due_calls, now=T0 + 15 * MINUTE - 1)
    assert (dict(early.emergency), dict(early.dispatch)) == ({}, {})

    due = tx(service.remove_due_calls, now=T0 + 15 * MINUTE)
    assert dict(due.emergency) == {(cid, 1): [doomed_911.callId]}
    assert dict(due.dispatch) == {(cid, 2): [doomed_closed.callId]}
    again = tx(service.remove_due_calls, now=T0 + 15 * MINUTE + 1)
    assert (dict(again.emergency), dict(again.dispatch)) == ({}, {})

    assert calls.listing().emergencyCalls == [later]
    assert calls.listing().closedCalls == [forever]
    assert calls.listing(server_id=2).closedCalls == []
    assert calls.listing(server_id=2).closedCallCount == 0
    assert calls.listing().closedCallCount == 1


def test_two_sweepers_at_once_remove_a_call_once(
    provision: Provisioner, tx: Callable[..., Any], community: Community, calls: Any
) -> None:
    # Two server processes sweep at the same moment: the second's update waits for the first's commit,
    # then finds the call removed. One history entry, one removal event, whatever the database.
    doomed = calls.emergency(deleteAfterMinutes=15)
    now = T0 + 15 * MINUTE
    with ThreadPoolExecutor(1) as other_process:
        with provision.db.transaction() as first:
            removed = service.remove_due_calls(first, now=now)
            second = other_process.submit(tx, service.remove_due_calls, now=now)
            if first.dialect.name == "postgresql":
                wait_until_a_backend_waits_for_a_lock(provision, second)  # the race is on: both saw it due
        also = second.result(timeout=30)
    assert dict(removed.emergency) == {(community.community_id, 1): [doomed.callId]}
    assert dict(also.emergency) == {}
    with provision.db.engine.connect() as conn:
        entries = conn.execute(
            text("SELECT count(*) FROM call_history WHERE call_id = :id AND action = 'removed'"),
            {"id": doomed.callId},
        ).scalar_one()
        events = conn.execute(
            text("SELECT count(*) FROM events WHERE type = 'EVENT_REMOVE_911'")
        ).scalar_one()
    assert (entries, events) == (1, 1)


def wait_until_a_backend_waits_for_a_lock(
    provision: Provisioner, waiter: Future[Any], seconds: float = 30
) -> None:
    """Until this database shows a session waiting for a lock (a positive signal, not a sleep).

    If ``waiter`` ends first, its own error (or what it returned without waiting) is the failure.
    """
    deadline = time.monotonic() + seconds
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with provision.db.engine.connect() as conn:
        while True:
            found = conn.execute(waiting).scalar_one()
            # PostgreSQL keeps the sessions' state it read for the rest of the transaction: each look is a
            # transaction of its own, or a sweep that starts waiting after the first look is never seen.
            conn.rollback()
            if found:
                return
            if waiter.done():
                raise AssertionError(
                    f"the second sweep ended without waiting for the first: {waiter.result()}"
                )
            now = time.monotonic()
            assert now < deadline, f"the second sweep has not waited for a lock in {seconds} s"
            time.sleep(0.01)


# -- the wire models ---------------------------------------------------------------------------------


def test_metadata_numbers_and_booleans_become_json_text() -> None:
    call = NewEmergencyCall.model_validate(new_911(metaData={"a": 1000, "b": True, "c": 425.1, "d": "x"}))
    assert call.metaData == {"a": "1000", "b": "true", "c": "425.1", "d": "x"}


@pytest.mark.parametrize("meta", [{"a": {"b": "c"}}, {"a": [1]}, {"a": None}, ["a"], "a", {"": "x"}])
def test_metadata_that_is_not_flat_text_is_refused(meta: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        NewEmergencyCall.model_validate(new_911(metaData=meta))
    assert refused.value.errors()[0]["loc"] == ("metaData",)


def test_the_references_example_body_is_a_valid_dispatch_call() -> None:
    call = NewDispatchCall.model_validate(new_dispatch(notes=None, communityUserIds="player-1234"))
    assert call.communityUserIds == ["player-1234"]
    assert not call.notes


def test_a_dispatch_call_needs_some_targets_even_an_empty_list() -> None:
    body = new_dispatch()
    del body["communityUserIds"]
    with pytest.raises(ValidationError):
        NewDispatchCall.model_validate(body)
    assert NewDispatchCall.model_validate({**body, "accounts": []}).accounts == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0, CallTableType.DISPATCH_CALL),
        ("dispatch", CallTableType.DISPATCH_CALL),
        ("1", CallTableType.EMERGENCY_CALL),
        ("Emergency", CallTableType.EMERGENCY_CALL),
        (100, CallTableType.SEARCH_ALL),
        ("all", CallTableType.SEARCH_ALL),
    ],
)
def test_table_types_are_read_from_numbers_and_names(given: Any, expected: CallTableType) -> None:
    assert parse_table_type(given) is expected


@pytest.mark.parametrize("given", [2, "99", "every", ""])
def test_unknown_table_types_are_refused(given: Any) -> None:
    with pytest.raises(ValueError, match="0, 1, 100"):
        parse_table_type(given)
