"""The lease table that sends a game server's events to the process holding its hub socket."""

from __future__ import annotations

from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from tests.support import Community, Provisioner

LEASE_MS = 60_000


def emit(provision: Provisioner, community: Community, server_id: int = 1) -> None:
    with provision.db.transaction() as conn:
        events.emit(
            conn,
            community_id=community.community_id,
            server_id=server_id,
            type=EventType.EVENT_911,
            data={"call": {"callId": 1}},
            now=provision.now(),
        )


def hold(provision: Provisioner, community: Community, holder: str, now: int) -> None:
    with provision.db.transaction() as conn:
        servers = {(community.community_id, 1)}
        events.hold_sockets(conn, holder=holder, servers=servers, now=now, until=now + LEASE_MS)


def claim(provision: Provisioner, holder: str, now: int) -> list[events.Delivery]:
    with provision.db.transaction() as conn:
        return events.claim_deliveries(conn, now=now, lease_ms=10_000, holder=holder)


def test_with_a_socket_an_event_is_pending_without_a_push_target_and_only_the_sockets_holder_takes_it(
    provision: Provisioner, community: Community
) -> None:
    hold(provision, community, "process-a", provision.now())
    emit(provision, community)
    now = provision.now() + 1  # the event is due
    assert provision.scalar("SELECT state FROM events") == "pending"
    assert claim(provision, "process-b", now) == []  # another process: left to the socket's holder
    with provision.db.transaction() as conn:
        assert events.skip_untargeted(conn, now=now) == 0  # a socket holds it: not skipped
    [taken] = claim(provision, "process-a", now)
    assert taken.socket and taken.url is None


def test_a_lapsed_lease_lets_any_process_take_and_skip_the_event(
    provision: Provisioner, community: Community
) -> None:
    now = provision.now()
    hold(provision, community, "process-a", now - 2 * LEASE_MS)  # a process that died two minutes ago
    emit(provision, community)
    now = provision.now() + 1
    [untargeted] = claim(provision, "process-b", now)
    assert untargeted.url is None and not untargeted.socket
    with provision.db.transaction() as conn:
        assert events.skip_untargeted(conn, now=now) == 1


def test_a_server_without_a_socket_or_target_still_has_its_events_skipped_at_once(
    provision: Provisioner, community: Community
) -> None:
    emit(provision, community, server_id=2)
    assert provision.scalar("SELECT state FROM events") == "skipped"
