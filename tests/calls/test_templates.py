"""Dispatch templates (made with the CLI, read over v2) and custom dispatch calls made from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from opendispatch.calls.schemas import MAX_TEMPLATES
from opendispatch.cli import main
from tests.support import Community, Provisioner, Server, every_row_count

S1 = "/v2/emergency/servers/1"
CUSTOM = f"{S1}/custom-dispatch-calls"

# The docs page's "UK Control Room", with every binding a call needs.
UK_CONTROL_ROOM: dict[str, Any] = {
    "name": "UK Control Room",
    "statusOptions": [
        {"id": "awaiting_deployment", "label": "Awaiting Deployment", "status": 0},
        {"id": "deployed", "label": "Deployed", "status": 1},
        {"id": "resolved", "label": "Resolved", "status": 2},
    ],
    "sections": [
        {
            "uid": "call_source",
            "label": "Call Source",
            "icon": "fas fa-broadcast-tower",
            "size": 6,
            "fields": [
                {"uid": "status", "type": "status", "label": "Status", "binding": "status"},
                {
                    "uid": "priority",
                    "type": "select",
                    "label": "Grade",
                    "binding": "priority",
                    "options": ["Immediate", "Prompt", "Scheduled", "Resolution without deployment"],
                },
                {"uid": "code", "type": "text", "label": "Incident type", "binding": "code"},
                {"uid": "caller_name", "type": "text", "label": "Caller", "required": True},
            ],
        },
        {
            "uid": "details",
            "label": "Details",
            "fields": [
                {"uid": "description", "type": "textarea", "label": "Details", "binding": "description"},
                {"uid": "units", "type": "units", "label": "Resources", "binding": "units"},
                {"uid": "location", "type": "text", "label": "Location", "binding": "address"},
            ],
        },
    ],
}

VALUES = {
    "status": "deployed",
    "priority": "Prompt",
    "description": "Reports of a disturbance outside the station.",
    "code": "GRADE_1",
    "caller_name": "Alex Smith",
}


def make_template(
    database_url: str, community: Community, tmp_path: Path, layout: dict[str, Any] | None = None
) -> dict[str, Any]:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(layout or UK_CONTROL_ROOM))
    result = CliRunner().invoke(
        main,
        ["template", "create", "--community", community.community_id, "--file", str(path), "--json"],
        catch_exceptions=False,
        env={"OPENDISPATCH_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@pytest.fixture
def officer(provision: Provisioner, community: Community) -> int:
    account = provision.account(community, "officer", "player-1234")
    return provision.unit(community, account["uuid"], unit_num="1A-01")


def test_a_template_made_with_the_cli_is_served_as_the_docs_show_it(
    server: Server, community: Community, database_url: str, tmp_path: Path
) -> None:
    first = make_template(database_url, community, tmp_path)
    second = make_template(database_url, community, tmp_path, {**UK_CONTROL_ROOM, "name": "Fire"})
    with server.client(community.api_key) as http:
        listed = http.get("/v2/emergency/dispatch-templates")
        one = http.get(f"/v2/emergency/dispatch-templates/{first['templateId']}")
    assert listed.status_code == 200 and one.status_code == 200
    assert [t["templateId"] for t in listed.json()] == [first["templateId"], second["templateId"]]
    template = one.json()
    assert template == listed.json()[0] == first
    assert set(template) == {"templateId", "name", "version", "isDefault", "statusOptions", "sections"}
    assert (template["name"], template["version"], template["isDefault"]) == ("UK Control Room", 1, True)
    assert listed.json()[1]["isDefault"] is False
    assert template["statusOptions"][1] == {"id": "deployed", "label": "Deployed", "status": 1}
    fields = {field["uid"]: field for section in template["sections"] for field in section["fields"]}
    # The status, units and description bindings are locked and required, whatever the file said.
    assert all(
        fields[uid]["locked"] and fields[uid]["required"] for uid in ("status", "units", "description")
    )
    assert fields["priority"]["options"][0] == "Immediate"


def test_the_cli_lists_templates_and_refuses_a_bad_file_with_one_line(
    community: Community, database_url: str, tmp_path: Path
) -> None:
    made = make_template(database_url, community, tmp_path)
    runner = CliRunner()
    env = {"OPENDISPATCH_DATABASE_URL": database_url}
    listed = runner.invoke(
        main, ["template", "list", "--community", community.community_id, "--json"], env=env
    )
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)["templates"] == [made]
    bad = tmp_path / "bad.json"
    no_units = json.loads(json.dumps(UK_CONTROL_ROOM))
    no_units["sections"][1]["fields"] = no_units["sections"][1]["fields"][:1]
    bad.write_text(json.dumps(no_units))
    refused = runner.invoke(
        main, ["template", "create", "--community", community.community_id, "--file", str(bad)], env=env
    )
    assert refused.exit_code != 0 and "'units' binding is required" in refused.stderr
    unknown = runner.invoke(main, ["template", "list", "--community", "nope"], env=env)
    assert unknown.exit_code != 0 and "Traceback" not in unknown.stderr


def test_a_community_has_a_bounded_number_of_templates(
    provision: Provisioner, community: Community, database_url: str, tmp_path: Path
) -> None:
    from opendispatch.calls import service
    from opendispatch.calls.schemas import NewDispatchTemplate
    from opendispatch.errors import Conflict

    layout = NewDispatchTemplate.model_validate(UK_CONTROL_ROOM)
    with provision.db.transaction() as conn:
        for _ in range(MAX_TEMPLATES):
            service.create_template(conn, community_id=community.community_id, template=layout, now=1)
    with pytest.raises(Conflict), provision.db.transaction() as conn:
        service.create_template(conn, community_id=community.community_id, template=layout, now=1)


def test_a_custom_dispatch_call_is_stored_with_its_template_and_values(
    server: Server, community: Community, database_url: str, tmp_path: Path, officer: int
) -> None:
    template = make_template(database_url, community, tmp_path)
    body = {
        "templateId": template["templateId"],
        "values": {**VALUES, "location": "Mission Row"},
        "communityUserIds": ["player-1234"],
        "notes": [],
        "metaData": [],
    }
    with server.client(community.api_key) as http:
        answer = http.post(CUSTOM, json=body)
        assert answer.status_code == 200, answer.text
        call = answer.json()
        board = http.get(f"{S1}/calls").json()
    assert call["template"] == template and call["statusId"] == "deployed"
    assert call["values"] == {**VALUES, "location": "Mission Row", "units": [officer]}
    # The canonical fields existing integrations read.
    assert (call["status"], call["priority"], call["code"]) == (1, 2, "GRADE_1")
    assert call["description"] == VALUES["description"] and call["address"] == "Mission Row"
    assert call["title"] == "UK Control Room" and call["idents"] == [officer] and call["primary"] == officer
    assert call["metaData"] == {} and call["notes"] == []
    (listed,) = board["activeCalls"]
    assert listed["callId"] == call["callId"] and listed["idents"] == [officer]
    assert {name: listed[name] for name in listed} == {name: call[name] for name in listed}


def test_a_custom_call_with_a_resolved_status_option_is_closed(
    server: Server, community: Community, database_url: str, tmp_path: Path, officer: int
) -> None:
    template = make_template(database_url, community, tmp_path)
    body = {
        "templateId": template["templateId"],
        "values": {**VALUES, "status": "resolved"},
        "identIds": [officer],
    }
    with server.client(community.api_key) as http:
        call = http.post(CUSTOM, json=body).json()
        board = http.get(f"{S1}/calls").json()
    assert call["status"] == 2
    assert [c["callId"] for c in board["closedCalls"]] == [call["callId"]] and board["closedCallCount"] == 1


def refused(http: httpx.Client, provision: Provisioner, body: Any, status: int) -> dict[str, Any]:
    before = every_row_count(provision)
    answer = http.post(CUSTOM, json=body)
    assert answer.status_code == status, answer.text
    assert every_row_count(provision) == before
    problem: dict[str, Any] = answer.json()
    return problem


def test_bad_custom_dispatch_bodies_are_refused_naming_the_field_and_change_nothing(
    server: Server,
    community: Community,
    provision: Provisioner,
    database_url: str,
    tmp_path: Path,
    officer: int,
) -> None:
    template_id = make_template(database_url, community, tmp_path)["templateId"]
    good = {"templateId": template_id, "values": VALUES, "communityUserIds": ["player-1234"]}
    provision.set_limit(community, "create_custom_dispatch", 1000)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**good, "values": {**VALUES, "nope": "x"}}, 400, "values.nope"),
        ({**good, "values": {**VALUES, "status": "ACTIVE"}}, 400, "values.status"),
        ({**good, "values": {**VALUES, "status": 1}}, 400, "values.status"),
        ({**good, "values": {**VALUES, "priority": "Urgent"}}, 400, "values.priority"),
        ({**good, "values": {**VALUES, "description": ""}}, 400, "values.description"),
        (
            {**good, "values": {k: v for k, v in VALUES.items() if k != "caller_name"}},
            400,
            "values.caller_name",
        ),
        ({**good, "values": {**VALUES, "code": "x" * 65}}, 400, "values.code"),
        ({**good, "values": {**VALUES, "code": {"a": 1}}}, 400, "values"),
        ({**good, "values": "status=deployed"}, 400, "values"),
        ({k: v for k, v in good.items() if k != "values"}, 400, "values"),
        ({k: v for k, v in good.items() if k != "templateId"}, 400, "templateId"),
        ({**good, "templateId": "1"}, 400, "templateId"),
        ({**good, "templateId": 0}, 400, "templateId"),
        ({**good, "metaData": {"a": {"b": 1}}}, 400, "metaData"),
        ({**good, "notes": "note"}, 400, "notes"),
        ({**good, "deleteAfterMinutes": -1}, 400, "deleteAfterMinutes"),
        ({k: v for k, v in good.items() if k != "communityUserIds"}, 400, "communityUserIds"),
        ({**good, "communityUserIds": ["nobody"]}, 404, "None of the targets"),
        ({**good, "templateId": template_id + 1}, 404, f"template {template_id + 1}"),
    ]
    with server.client(community.api_key) as http:
        for body, status, named in cases:
            problem = refused(http, provision, body, status)
            assert named in json.dumps(problem), (body, problem)


def test_templates_and_accounts_of_another_community_are_404(
    server: Server,
    community: Community,
    provision: Provisioner,
    database_url: str,
    tmp_path: Path,
    officer: int,
) -> None:
    template_id = make_template(database_url, community, tmp_path)["templateId"]
    other = provision.community("Other")
    with server.client(other.api_key) as http:
        assert http.get("/v2/emergency/dispatch-templates").json() == []
        assert http.get(f"/v2/emergency/dispatch-templates/{template_id}").status_code == 404
        body = {"templateId": template_id, "values": VALUES, "identIds": [officer]}
        assert refused(http, provision, body, 404)["status"] == 404
        account = community.accounts["officer"]["uuid"]
        assert http.get(f"/v2/emergency/accounts/{account}/current-call").status_code == 404
    with server.client(community.api_key) as http:
        # The other community's server 2 does not exist here either.
        body = {"templateId": template_id, "values": VALUES, "identIds": [officer]}
        assert http.post("/v2/emergency/servers/9/custom-dispatch-calls", json=body).status_code == 404
