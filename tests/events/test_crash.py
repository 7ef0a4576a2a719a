"""An event written with its call survives the server being killed before it was delivered."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from opendispatch.events import service as events
from tests.events.receiver import Receiver
from tests.support import Provisioner


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENDISPATCH_DATABASE_URL": database_url,
        "OPENDISPATCH_PUSH_BACKOFF_BASE_SECONDS": "0.05",
        "OPENDISPATCH_PUSH_BACKOFF_MAX_SECONDS": "0.2",
        "OPENDISPATCH_PUSH_POLL_SECONDS": "0.1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "opendispatch.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(log.read_text())


def test_event_is_delivered_after_sigkill_and_restart(
    database_url: str, provision: Provisioner, tmp_path: Path
) -> None:
    community = provision.community("Crash")
    receiver_port = free_port()
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url=f"http://127.0.0.1:{receiver_port}/sonorancad/event",
            body_key=community.api_key,
        )
    port = free_port()
    log = tmp_path / "server.log"
    server = start_server(database_url, port, log)
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v2/emergency/servers/1/calls/911",
            json={"isEmergency": True, "caller": "Survivor", "location": "Here", "description": "Help"},
            headers={"Authorization": f"Bearer {community.api_key}"},
        )
        assert answer.status_code == 200
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    receiver = Receiver(receiver_port).start()
    restarted = start_server(database_url, port, log)
    try:
        [arrival] = receiver.wait_for(1, timeout=15)
        assert arrival.json["data"][0]["call"] == {
            "callId": answer.json()["callId"],
            "isEmergency": True,
            "caller": "Survivor",
            "location": "Here",
            "description": "Help",
            "metaData": {},  # inside the call too, where the in-game resource reads it
        }
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)
        receiver.stop()
