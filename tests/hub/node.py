"""The official SignalR client under Node.js, driven step by step (see client.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def run_client(
    url: str, steps: list[dict[str, Any]], timeout: float = 60, **options: Any
) -> list[dict[str, Any]]:
    """Run ``steps`` with @microsoft/signalr against the hub at ``url``; one outcome per step."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/test.sh installs the client with npm)"
    assert (HERE / "node_modules" / "@microsoft" / "signalr").is_dir(), (
        "run scripts/test.sh (npm ci in tests/hub)"
    )
    plan = json.dumps({"url": url, "steps": steps, **options})
    done = subprocess.run(
        [node, str(HERE / "client.mjs"), plan], capture_output=True, text=True, timeout=timeout, cwd=HERE
    )
    assert done.returncode == 0, done.stderr
    outcomes = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(outcomes) == len(steps), (done.stdout, done.stderr)
    return outcomes
