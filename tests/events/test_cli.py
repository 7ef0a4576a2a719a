"""The push commands: set, show, log and redeliver, with their --json answers."""

from __future__ import annotations

import json
import time
from typing import Any

from click.testing import CliRunner

from opendispatch.cli import main
from opendispatch.events import service as events
from opendispatch.settings import Settings
from tests.events.receiver import Receiver
from tests.support import Community, Provisioner, Server, in_process_server


def run(database_url: str, *args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(main, [*args, "--database", database_url, "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_push_set_show_log_and_redeliver(
    settings: Settings, community: Community, provision: Provisioner, database_url: str
) -> None:
    receiver = Receiver().start()
    # The real clock: the CLI queues redeliveries by the wall clock, as it does in production.
    fast = settings.model_copy(update={"push_poll_seconds": 0.1})
    with in_process_server(fast) as server:
        _push_commands(server, community, provision, database_url, receiver)


def _push_commands(
    server: Server, community: Community, provision: Provisioner, database_url: str, receiver: Receiver
) -> None:
    try:
        made = run(
            database_url,
            "push",
            "set",
            "--community",
            community.community_id,
            "--server",
            "1",
            "--url",
            receiver.url,
            "--shape",
            "object",
        )
        assert made["url"] == receiver.url and made["shape"] == "object" and made["enabled"] is True
        assert made["signingSecret"].startswith("whsec_")
        # No --key: a fresh API key is issued for the receiver and is what the body carries.
        issued = made["apiKey"]
        shown = run(database_url, "push", "show", "--community", community.community_id)
        assert shown["targets"][0]["signingSecret"] == made["signingSecret"]

        with server.client(community.api_key) as http:
            http.post(
                "/v2/emergency/servers/1/calls/911",
                json={"isEmergency": True, "caller": "a", "location": "b", "description": "c"},
            )
        [arrival] = receiver.wait_for(1)
        assert arrival.json["key"] == issued and arrival.json["data"]["call"]["caller"] == "a"

        # The attempt is logged as it starts, and its outcome once the receiver has answered (a commit
        # later than the answer the receiver saw): wait for the outcome to show.
        deadline = time.monotonic() + 10
        while not (
            (log := run(database_url, "push", "log", "--community", community.community_id))["attempts"]
            and log["attempts"][0]["statusCode"] is not None
        ):
            assert time.monotonic() < deadline, "the attempt's outcome never reached the delivery log"
            time.sleep(0.02)
        [attempt] = log["attempts"]
        assert attempt["statusCode"] == 200 and attempt["state"] == "delivered"
        event_id = attempt["eventId"]

        queued = run(database_url, "push", "redeliver", str(event_id), "--community", community.community_id)
        assert queued == {"eventIds": [event_id]}
        receiver.wait_for(2)
        assert receiver.arrivals[1].headers["webhook-id"] == arrival.headers["webhook-id"]

        # Revoking the receiver's key takes it out of the push target too.
        run(database_url, "key", "revoke", "--community", community.community_id, "--key", "-", stdin=issued)
        with provision.db.engine.connect() as conn:
            [(_target, _secret, has_key)] = events.push_targets_with_keys(conn, community.community_id)
        assert has_key is False
    finally:
        receiver.stop()


def test_redeliver_all_dead_events_of_a_server(
    community: Community, provision: Provisioner, database_url: str
) -> None:
    with provision.db.transaction() as conn:
        for number in range(3):
            events.emit(
                conn,
                community_id=community.community_id,
                server_id=1,
                type=events.EventType.EVENT_REMOVE_911,
                data={"callIds": [number]},
                now=provision.now(),
            )
        conn.exec_driver_sql("UPDATE events SET state = 'dead'")
    queued = run(
        database_url, "push", "redeliver", "--community", community.community_id, "--server", "1", "--dead"
    )
    assert len(queued["eventIds"]) == 3
    with provision.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT DISTINCT state FROM events").scalars().all() == ["pending"]


def test_push_errors_are_one_line(community: Community, database_url: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "push",
            "set",
            "--community",
            community.community_id,
            "--server",
            "1",
            "--url",
            "ftp://x",
            "--database",
            database_url,
        ],
    )
    assert result.exit_code != 0 and "not an http(s) URL" in result.output
    assert "Traceback" not in result.output
    unknown = CliRunner().invoke(
        main, ["push", "redeliver", "999", "--community", community.community_id, "--database", database_url]
    )
    assert unknown.exit_code != 0 and "does not exist" in unknown.output
