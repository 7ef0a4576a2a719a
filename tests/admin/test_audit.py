"""The admin pages' door: admins only, their own community only, and the audit log a page at a time."""

from __future__ import annotations

from opendispatch.admin import service
from tests.support import Community, Provisioner, Server
from tests.web.support import Console, admin, dispatcher

AUDIT = "/console/api/admin/audit"


def note(provision: Provisioner, community: Community, action: str, n: int) -> None:
    with provision.db.transaction() as conn:
        service.record(
            conn,
            community_id=community.community_id,
            actor_account_uuid="0" * 36,
            actor_name="root",
            action=action,
            target=f"thing {n}",
            detail={"n": n},
            now=provision.now() + n,
        )


def test_an_admin_reads_the_audit_log_newest_first_a_page_at_a_time(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    for n in range(5):
        note(provision, community, "key.create", n)
    console = Console(server, community, "root")
    try:
        assert "admin" in console.get("/console/api/session").json()["roles"]
        first = console.get(AUDIT, params={"limit": 3}).json()
        assert [entry["target"] for entry in first["entries"]] == ["thing 4", "thing 3", "thing 2"]
        assert first["entries"][0]["detail"] == {"n": 4} and first["entries"][0]["actor"] == "root"
        rest = console.get(AUDIT, params={"limit": 3, "before": first["before"]}).json()
        assert [entry["target"] for entry in rest["entries"]] == ["thing 1", "thing 0"]
        assert rest["before"] is None
        assert console.get(AUDIT, params={"limit": 0}).status_code == 400
    finally:
        console.close()


def test_a_dispatcher_gets_403_and_nobody_gets_in_without_a_session(
    server: Server, provision: Provisioner, community: Community
) -> None:
    dispatcher(provision, community, "alice")
    console = Console(server, community, "alice")
    try:
        refused = console.get(AUDIT)
        assert refused.status_code == 403 and "admin role" in refused.text
    finally:
        console.close()
    with server.client() as http:
        assert http.get(AUDIT).status_code == 401
        page = http.get("/console/admin")  # the page itself is static; its data needs the role
        assert page.status_code == 200 and "js/admin.js" in page.text


def test_an_admin_sees_only_the_audit_log_of_their_own_community(
    server: Server, provision: Provisioner, community: Community
) -> None:
    other = provision.community("Beta")
    admin(provision, community)
    note(provision, other, "key.revoke", 1)
    note(provision, community, "key.create", 2)
    console = Console(server, community, "root")
    try:
        entries = console.get(AUDIT).json()["entries"]
        assert [entry["action"] for entry in entries] == ["key.create"]
    finally:
        console.close()
