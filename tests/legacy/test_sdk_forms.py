"""Every envelope sonoran.js sends for a v1 type we serve is taken, exactly as the SDK writes it.

The forms are ``tests/legacy/sdk_forms.py`` (read from the SDK's source); the exact answers and effects of
each type are ``test_types.py``'s. Here only: the form is understood (200, not one of the v1 refusals),
so a type added to ``legacy.service.TYPES`` is at once held to every call form of the SDK.
"""

from __future__ import annotations

import pytest

from opendispatch.legacy.service import TYPES
from tests.legacy.sdk_forms import Scene, SdkForm, forms
from tests.legacy.v1 import World

REFUSALS = ("INVALID REQUEST TYPE", "INVALID COMMUNITY ID", "INVALID API KEY", "API IS NOT ENABLED")
SERVED = [form for form in forms() if form.type in TYPES]


def scene_of(world: World) -> Scene:
    """The world's ids where the SDK's caller would put them, and the things a form names made first."""
    blip = world.v2.post("/v2/emergency/servers/1/blips", json={"coordinates": {"x": 1, "y": 2}})
    assert blip.status_code == 200, blip.text
    signs = world.v2.put(
        "/v2/emergency/servers/1/street-sign-config", json={"signs": [{"id": 1, "label": "A"}]}
    )
    assert signs.status_code == 200, signs.text
    spare = world.provision.unit(world.community, world.accounts[0], unit_num="1A-99")
    # Making a unit selects it; officer 0's unit on server 1 stays the one on the dispatch call.
    again = world.v2.put(
        f"/v2/emergency/accounts/{world.accounts[0]}/selected-identifier",
        json={"identId": world.idents[0], "serverId": 1},
    )
    assert again.status_code == 200, again.text
    return Scene(
        emergency_id=world.emergency_id,
        call_id=world.dispatch_id,
        api_id="license:0",
        other_api_id="license:1",
        account=world.accounts[0],
        ident_id=world.idents[0],
        blip_id=blip.json()["id"],
        secret=world.community.accounts["officer0"]["secret"],
        spare_ident_id=spare,
    )


@pytest.mark.parametrize("form", SERVED, ids=[f"{form.type}:{form.call}" for form in SERVED])
def test_sdk_form_is_taken(world: World, form: SdkForm) -> None:
    sent = next(f for f in forms(scene_of(world)) if (f.type, f.call) == (form.type, form.call))
    answer = world.post(sent.path, sent.body(world.community.community_id, world.community.api_key))
    assert answer.status_code == 200, (sent.source, answer.text)
    assert not answer.text.startswith(REFUSALS), (sent.source, answer.text)
