"""An attempt cut off by a crash is in the delivery log: the attempt is written before it is made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from opendispatch.cli import main
from opendispatch.events import service as events
from tests.events.receiver import Receiver
from tests.services import launcher
from tests.support import Community, Provisioner, free_port, new_911
from tests.test_fleet import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hanging_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.delay = 20.0  # it takes the POST and never answers in time
    receiver.start()
    yield receiver
    receiver.stop()


def test_an_attempt_cut_off_by_a_crash_shows_in_push_log(
    database_url: str,
    provision: Provisioner,
    community: Community,
    hanging_receiver: Receiver,
    tmp_path: Path,
) -> None:
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url=hanging_receiver.url,
            body_key=community.api_key,
        )
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "OPENDISPATCH_DATABASE_URL": database_url,
        "OPENDISPATCH_PUSH_TIMEOUT_SECONDS": "30",
    }
    with (tmp_path / "serve.log").open("ab") as log:
        server = subprocess.Popen(
            [*launcher("KILL"), sys.executable, "-m", "opendispatch.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 30, lambda: (tmp_path / "serve.log").read_text())
        created = httpx.post(
            f"{url}/v2/emergency/servers/1/calls/911",
            json=new_911(caller="Cut off"),
            headers={"Authorization": f"Bearer {community.api_key}"},
        )
        assert created.status_code == 200, created.text
        wait_until(lambda: hanging_receiver.attempts == 1, 10, lambda: "the receiver got no POST")
        server.send_signal(signal.SIGKILL)  # mid-attempt: the receiver has the POST, no answer yet
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)

    logged = CliRunner().invoke(
        main, ["push", "log", "--community", community.community_id, "--database", database_url, "--json"]
    )
    assert logged.exit_code == 0, logged.output
    attempts = json.loads(logged.stdout)["attempts"]
    assert [(a["eventType"], a["error"], a["statusCode"]) for a in attempts] == [
        ("EVENT_911", events.UNFINISHED, None)
    ]
    assert attempts[0]["url"] == hanging_receiver.url and attempts[0]["state"] == "pending"
