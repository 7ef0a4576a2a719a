"""The OpenAPI document is true: schemathesis fuzzes every documented operation of the real server.

One bounded run (fixed seed, a fixed number of examples per operation) over the document the server
serves at /openapi.json, with the key of a provisioned community whose rate limits are lifted. Its four
phases: the documented examples, boundary values of every constraint (coverage), random valid and
invalid requests (fuzzing), and chains that follow the document's links from each create operation to
the reads and changes of what it made (stateful). Every answer must be no server error, of a documented
status, content type and headers, and match its documented schema; an undocumented method must get a 405
with the right ``Allow``. The run's JSON report must count no failure and no error.

Alone: ``PYTHONPATH=src pytest tests/test_openapi_fuzz.py -q`` (about two minutes on two cores); the
report and schemathesis's own output are printed when it fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import LiveServer, Provisioner, lift_limits

# SQLite only: the run checks the document against the routes, which are the same on both databases;
# on PostgreSQL it would take the same two minutes again to tell nothing new.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.timeout(360)]

SEED = 14
# The run's bounds: about a minute on two cores (the suite must stay under 15 minutes).
MAX_EXAMPLES = 10  # per operation, in each of the coverage and fuzzing phases
STATEFUL_SCENARIOS = 60  # chains of calls that follow the links...
STATEFUL_STEPS = 20  # ...of at most this many calls each
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "allow_header_conformance",
]
# Not negative_data_rejection: the server takes on purpose what SDKs send beyond the schema (a bare value
# for a list, [] for an empty object, numeric Discord ids). Not positive_data_acceptance: JSON Schema's
# "integer" admits 5.0, which strict input types refuse, and some rules span requests (a call's template).
CHECK_LINES = "\n".join(f"{check}.enabled = true" for check in CHECKS)
# The live event stream never ends (tests/events/test_stream.py covers it).
EXCLUDED_PATHS = r"/events$"


def config(api_key: str, account_uuid: str, report_dir: Path) -> str:
    """The run's schemathesis.toml: the key, where its answers land, real ids to reach past the 404s."""
    return f"""
seed = {SEED}
headers = {{ Authorization = "Bearer {api_key}" }}

[reports]
directory = "{report_dir}"
json.enabled = true

[cache]
enabled = false

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"

[checks]
enabled = false
{CHECK_LINES}
[phases.stateful]
max-steps = {STATEFUL_STEPS}

[phases.stateful.generation]
max-examples = {STATEFUL_SCENARIOS}

# A server and an account that exist, so most requests reach the service rather than a 404; the ids of
# calls, identifiers and blips come from the create operations, through the document's links.
[parameters]
serverId = 1
accountUuid = "{account_uuid}"
"""


def run_schemathesis(url: str, work: Path, settings: str) -> tuple[dict[str, Any], str]:
    """Run the schemathesis CLI on ``url``; its JSON report and its output."""
    (work / "schemathesis.toml").write_text(settings)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(work / "schemathesis.toml"),
        "run",
        f"{url}/openapi.json",
        "--workers",
        "1",
        "--exclude-path-regex",
        EXCLUDED_PATHS,
        "--request-timeout",
        "10",
        "--no-color",
    ]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=330, check=False)
    output = done.stdout + done.stderr
    reports = sorted((work / "report").glob("*.json"))
    assert reports, f"schemathesis wrote no report (exit {done.returncode}):\n{output[-20_000:]}"
    report: dict[str, Any] = json.loads(reports[-1].read_text())
    return report, output


def test_every_answer_is_as_the_openapi_document_says(
    live: LiveServer, provision: Provisioner, tmp_path: Path
) -> None:
    community = provision.community("Fuzzed", servers=2)
    lift_limits(provision, community, per_minute=1_000_000)
    account = provision.account(community, "fuzzer", "player-1")
    provision.unit(community, account["uuid"])

    settings = config(community.api_key, account["uuid"], tmp_path / "report")
    report, output = run_schemathesis(live.url, tmp_path, settings)

    summary = json.dumps(
        {key: report.get(key) for key in ("failures", "errors", "test_cases", "operations", "phases")},
        indent=1,
    )
    links = re.search(r"API Links:\s+(\d+) covered", output)
    print(
        f"schemathesis: {report['test_cases']['generated']} test cases in {report['running_time']:.0f} s, "
        f"{links.group(1) if links else '?'} links followed"
    )
    assert report["failures"] == [], f"{summary}\n{output[-30_000:]}"
    assert report["errors"] == [], f"{summary}\n{output[-30_000:]}"
    # Every documented operation but the stream was tested, in every phase, stateful chains included.
    assert report["operations"]["tested"] == report["operations"]["selected"] >= 55, summary
    assert all(phase["status"] == "success" for phase in report["phases"].values()), summary
    assert report["test_cases"]["generated"] >= 5_000, summary
