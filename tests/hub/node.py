"""The official SignalR client under Node.js, driven step by step (see client.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def run_client(
    url: str,
    steps: Sequence[object],
    timeout: float = 60,
    during_pause: Callable[[], object] | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Run ``steps`` with @microsoft/signalr against the hub at ``url``; one outcome per step.

    A ``pause`` step stops the client until ``during_pause`` has run (say, a key revoked meanwhile).
    """
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/test.sh installs the client with npm)"
    assert (HERE / "node_modules" / "@microsoft" / "signalr").is_dir(), (
        "run scripts/test.sh (npm ci in tests/hub)"
    )
    plan = json.dumps({"url": url, "steps": steps, **options})
    with subprocess.Popen(
        [node, str(HERE / "client.mjs"), plan],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
    ) as client:
        assert client.stdin is not None and client.stdout is not None
        outcomes = []
        try:
            for line in client.stdout:
                outcome = json.loads(line)
                outcomes.append(outcome)
                if outcome["step"] == "pause":
                    if during_pause is not None:
                        during_pause()
                    client.stdin.write("go\n")
                    client.stdin.flush()
            client.stdin.close()
            client.wait(timeout=timeout)
        finally:
            if client.poll() is None:
                client.kill()
        stderr = client.stderr.read() if client.stderr is not None else ""
    assert client.returncode == 0, stderr
    assert len(outcomes) == len(steps), (outcomes, stderr)
    return outcomes
