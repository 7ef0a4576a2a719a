"""What sonoran.js sends for every v1 CAD type: the exact request envelopes, as data for the v1 tests.

Read from the source of sonoran.js 1.0.107 (``Sonoran-Software/Sonoran.js``, commit c18999c, "release:
v1.0.107"); every path below is in that repository, every line number at that commit. How a request is built:

1. A CAD manager method (``src/managers/CADManager.ts``; servers: ``src/managers/CADServerManager.ts``)
   calls ``REST.request(type, ...args)``.
2. ``REST.formatDataArguments`` (``src/libs/rest/src/lib/REST.ts:176``) turns the arguments into ``data``:
   a few types build an object, every other type keeps the argument list itself (``REST.ts:685``).
3. ``RequestManager.resolveRequestData`` (``src/libs/rest/src/lib/RequestManager.ts:123``) wraps ``data`` per
   type. The default (``RequestManager.ts:389``) sends ``[cloneObject(data)]``; ``cloneObject``
   (``src/utils/utils.ts:23``) of an argument list is a plain object, so an argument list arrives as ONE
   positional item ``{"0": arg0, "1": arg1, ...}``. Some types send ``[data[0]]`` instead, which nests a list
   argument one level (``[[...]]``), and ``SET_SERVERS`` sends the positional object itself, not in a list.
4. The body is ``JSON.stringify({id, key, type, data, product})`` (``RequestManager.ts:408``), ``product``
   0 for the CAD, POSTed to ``{cadApiUrl}/{path}`` with ``Accept`` and ``Content-Type: application/json``.
   Keys whose value is ``undefined`` (an optional argument left out) are dropped by ``JSON.stringify``.

``forms(scene)`` gives every envelope with the scene's ids filled in; ``SDK_TYPES`` every CAD type the SDK
knows (``src/libs/rest/src/lib/utils/constants.ts:53-391``), with the v2 operation doing the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MANAGER = "src/managers/CADManager.ts"
SERVERS = "src/managers/CADServerManager.ts"
REST = "src/libs/rest/src/lib/REST.ts"
WRAP = "src/libs/rest/src/lib/RequestManager.ts"
TYPES_AT = "src/libs/rest/src/lib/utils/constants.ts"

# The default path of steps 2 and 3: the argument list, sent as one positional item.
POSITIONAL = f"{REST}:685 (arguments kept), {WRAP}:389 ([cloneObject(arguments)])"
# The default path for a single object argument: sent as one item, the object itself.
OBJECT = f"{REST}:685, {WRAP}:389 ([object])"


@dataclass(frozen=True, slots=True)
class SdkType:
    """One v1 CAD request type of the SDK: where it is sent, and the v2 operation that does the same."""

    name: str
    path: str  # after the API base, e.g. "emergency/911_call"
    twin: str | None  # operationId in docs/reference/sonoran-v2-openapi.yaml; None: no v2 operation
    line: int  # its entry in constants.ts


def _types(*rows: tuple[str, str, str | None, int]) -> dict[str, SdkType]:
    return {name: SdkType(name, path, twin, line) for name, path, twin, line in rows}


# Every CAD type of GeneralCADAPITypes, CivilianCADAPITypes and EmergencyCADAPITypes, in the SDK's order.
SDK_TYPES: dict[str, SdkType] = _types(
    ("GET_SERVERS", "general/get_servers", "getServers", 55),
    ("SET_SERVERS", "general/set_servers", "setServers", 61),
    ("GET_VERSION", "general/get_version", "getVersion", 67),
    ("SET_PENAL_CODES", "general/set_penal_codes", "setPenalCodes", 73),
    ("SET_API_ID", "general/set_api_id", None, 79),
    ("GET_TEMPLATES", "general/get_templates", "getTemplates", 85),
    ("NEW_RECORD", "general/new_record", "createRecord", 91),
    ("SEND_DRAFT", "general/send_draft", "sendDraft", 97),
    ("EDIT_RECORD", "general/edit_record", "updateRecord", 103),
    ("REMOVE_RECORD", "general/remove_record", "deleteRecord", 109),
    ("LOOKUP_INT", "general/lookup_int", "lookupByValue", 115),
    ("LOOKUP", "general/lookup", "lookupNameOrPlate", 121),
    ("GET_ACCOUNT", "general/get_account", "getAccount", 127),
    ("CHECK_APIID", "general/check_apiid", None, 133),
    ("APPLY_PERMISSION_KEY", "general/apply_permission_key", "applyPermissionKey", 139),
    ("SET_ACCOUNT_PERMISSIONS", "general/set_account_permissions", "modifyAccountPermissions", 145),
    ("BAN_USER", "general/ban_user", "kickOrBanUser", 151),
    ("VERIFY_SECRET", "general/verify_secret", "verifySecret", 157),
    ("AUTH_STREETSIGNS", "general/auth_streetsigns", "authStreetSigns", 163),
    ("SET_POSTALS", "general/set_postals", "setPostalConfig", 169),
    ("SEND_PHOTO", "general/send_photo", "sendPhoto", 175),
    ("SET_CLOCK", "general/set_clock", None, 181),
    ("JOIN_COMMUNITY", "sso/community", None, 187),
    ("LEAVE_COMMUNITY", "sso/community", None, 193),
    ("GET_CHARACTERS", "civilian/get_characters", "getCharacters", 202),
    ("NEW_CHARACTER", "civilian/new_character", None, 208),
    ("EDIT_CHARACTER", "civilian/edit_characters", None, 214),
    ("REMOVE_CHARACTER", "civilian/remove_character", "deleteCharacter", 220),
    ("GET_IDENTIFIERS", "emergency/get_identifiers", "getIdentifiers", 229),
    ("MODIFY_IDENTIFIER", "emergency/modify_identifier", "updateIdentifier", 235),
    ("SET_IDENTIFIER", "emergency/set_identifier", "setSelectedIdentifier", 241),
    ("IDENTS_TO_GROUP", "emergency/idents_to_group", "setIdentifierGroup", 247),
    ("UNIT_PANIC", "emergency/unit_panic", "setUnitPanic", 253),
    ("UNIT_STATUS", "emergency/unit_status", "setUnitStatus", 259),
    ("GET_BLIPS", "emergency/get_blips", "getBlips", 265),
    ("ADD_BLIP", "emergency/add_blip", "createBlip", 271),
    ("MODIFY_BLIP", "emergency/modify_blip", "updateBlip", 277),
    ("REMOVE_BLIP", "emergency/remove_blip", "deleteBlips", 283),
    ("911_CALL", "emergency/911_call", "create911Call", 289),
    ("REMOVE_911", "emergency/remove_911", "remove911Call", 295),
    ("GET_CALLS", "emergency/get_calls", "getCalls", 301),
    ("GET_MY_CALL", "emergency/get_my_call", "getCurrentCall", 307),
    ("GET_ACTIVE_UNITS", "emergency/get_active_units", "getActiveUnits", 313),
    ("KICK_UNIT", "emergency/kick_unit", "kickUnit", 319),
    ("NEW_DISPATCH", "emergency/new_dispatch", "createDispatchCall", 325),
    ("EDIT_DISPATCH", "emergency/edit_dispatch", "updateDispatchCall", 331),
    ("ATTACH_UNIT", "emergency/attach_unit", "attachUnits", 337),
    ("DETACH_UNIT", "emergency/detach_unit", "detachUnits", 343),
    ("SET_CALL_POSTAL", "emergency/set_call_postal", "updateCallPostal", 349),
    ("SET_CALL_PRIMARY", "emergency/set_call_primary", "updateCallPrimary", 355),
    ("ADD_CALL_NOTE", "emergency/add_call_note", "addCallNote", 361),
    ("CLOSE_CALL", "emergency/close_call", "closeDispatchCalls", 367),
    ("UNIT_LOCATION", "emergency/unit_location", "updateUnitLocations", 373),
    ("SET_STREETSIGN_CONFIG", "emergency/set_streetsign_config", "setStreetSignConfig", 379),
    ("UPDATE_STREETSIGN", "emergency/update_streetsign", "updateStreetSigns", 385),
)


@dataclass(frozen=True, slots=True)
class Scene:
    """The ids a test's world has, put into the forms where the SDK's caller would put them."""

    server_id: int = 1
    emergency_id: int = 1  # a 911 call
    call_id: int = 2  # an open dispatch call
    api_id: str = "license:0"  # an account's API id (its communityUserId here)
    other_api_id: str = "license:1"
    account: str = "00000000-0000-4000-8000-000000000000"  # an account's uuid
    ident_id: int = 1  # a unit (identifier) of the account
    blip_id: int = 1
    record_id: int = 1
    secret: str = "0f8fad5b-d9cb-469f-a165-70867728950e"  # an account's secret uuid
    spare_ident_id: int = 3  # a unit of the account on no call, which may be removed


@dataclass(frozen=True, slots=True)
class SdkForm:
    """One request the SDK sends: the call that sends it, its ``data`` exactly, and where that is written."""

    type: str
    call: str  # the SDK call, as an integration writes it
    data: Any
    source: str

    @property
    def path(self) -> str:
        """The v1 path the SDK posts to."""
        return "/" + SDK_TYPES[self.type].path

    def body(self, community_id: str, api_key: str, **extra: Any) -> dict[str, Any]:
        """The whole envelope, in the SDK's key order."""
        return {
            "id": community_id,
            "key": api_key,
            "type": self.type,
            "data": self.data,
            "product": 0,
            **extra,
        }


def forms(scene: Scene = Scene()) -> list[SdkForm]:
    """Every envelope the SDK sends for a CAD type, each call form (positional, object) separately."""
    s = scene
    dispatch = {
        "serverId": s.server_id,
        "origin": 0,
        "status": 1,
        "priority": 1,
        "block": "100",
        "address": "Mission Row",
        "postal": "9001",
        "title": "Armed Robbery",
        "code": "211",
        "primary": -1,
        "trackPrimary": False,
        "description": "Clerk reports a firearm.",
        "notes": [{"time": "12:00:00", "label": "Dispatch", "type": "text", "content": "Units en route"}],
        "metaData": {"source": "sdk"},
        "units": [s.api_id],
    }
    server = {
        "id": s.server_id,
        "name": "Server 1",
        "description": "Main",
        "signal": "",
        "mapUrl": "",
        "mapIp": "127.0.0.1",
        "listenerPort": 30120,
        "differingOutbound": False,
        "outboundIp": "",
        "enableMap": True,
        "isStatic": False,
        "mapType": "NORMAL",
    }
    blip = {
        "id": -1,
        "coordinates": {"x": 10.5, "y": -20.25},
        "icon": "police",
        "color": "#0000ff",
        "tooltip": "PD",
    }
    record = {
        "user": s.api_id,
        "useDictionary": True,
        "recordTypeId": 5,
        "replaceValues": {"plate": "ABC123"},
    }
    return [
        # --- general ---
        SdkForm("GET_VERSION", "cad.getVersion()", [], f"{MANAGER}:104, {POSITIONAL}: no arguments, []"),
        SdkForm(
            "GET_SERVERS", "cad.servers.getServers()", [], f"{SERVERS}:21, {POSITIONAL}: no arguments, []"
        ),
        SdkForm(
            "SET_SERVERS",
            "cad.servers.setServers([server], false)",
            {"0": [server], "1": False},
            f"{SERVERS}:38, {REST}:685, {WRAP}:161 (cloneObject(arguments), not in a list)",
        ),
        SdkForm(
            "GET_ACCOUNT",
            "cad.getAccount({apiId})",
            [{"0": s.api_id}],
            f"{MANAGER}:119 (apiId, username), {POSITIONAL}; username undefined: dropped",
        ),
        SdkForm(
            "GET_ACCOUNT",
            "cad.getAccount({username})",
            [{"1": "officer0"}],
            f"{MANAGER}:119 (apiId, username), {POSITIONAL}; apiId undefined: dropped",
        ),
        SdkForm("CHECK_APIID", "cad.checkApiId(apiId)", [{"0": s.api_id}], f"{MANAGER}:299, {POSITIONAL}"),
        SdkForm(
            "SET_API_ID",
            "cad.setAccountApiIds({username, apiIds, pushNew})",
            [{"username": "officer0", "apiIds": [s.api_id, "steam:110000100000001"], "pushNew": True}],
            f"{MANAGER}:218, {WRAP}:209 ([data[0]])",
        ),
        SdkForm(
            "VERIFY_SECRET",
            "cad.verifySecret(secret)",
            [{"secret": s.secret}],
            f"{MANAGER}:339, {REST}:460 ({{secret}}), {WRAP}:389",
        ),
        SdkForm(
            "SET_POSTALS",
            "cad.setPostals(postals)",
            [[{"code": "101", "x": 100.5, "y": -200.25}, {"code": "102", "x": 300.0, "y": 400.0}]],
            f"{MANAGER}:359, {WRAP}:252 ([data[0]]: the list nested once)",
        ),
        SdkForm(
            "AUTH_STREETSIGNS",
            "cad.authorizeStreetSigns(serverId)",
            {"0": s.server_id},
            f"{MANAGER}:349, {WRAP}:248 (cloneObject(arguments), not in a list)",
        ),
        SdkForm(
            "SET_PENAL_CODES",
            "cad.setPenalCodes(codes)",
            [
                [
                    {
                        "code": "187",
                        "type": "Felony",
                        "title": "Murder",
                        "bondType": "None",
                        "jailTime": "Life",
                        "bondAmount": 0,
                    }
                ]
            ],
            f"{MANAGER}:208, {WRAP}:205 ([data[0]])",
        ),
        SdkForm(
            "GET_TEMPLATES", "cad.getRecordTemplates()", [], f"{MANAGER}:228, {POSITIONAL}: no arguments, []"
        ),
        SdkForm("GET_TEMPLATES", "cad.getRecordTemplates(5)", [{"0": 5}], f"{MANAGER}:226, {POSITIONAL}"),
        SdkForm("NEW_RECORD", "cad.createRecord(record)", [record], f"{MANAGER}:235, {WRAP}:213 ([data[0]])"),
        SdkForm(
            "SEND_DRAFT",
            "cad.sendDraft({apiId, recordTypeId, replaceValues})",
            [{"apiId": s.api_id, "recordTypeId": 5, "replaceValues": {"plate": "ABC123"}}],
            f"{MANAGER}:254, {WRAP}:217 ([data[0]])",
        ),
        SdkForm(
            "EDIT_RECORD", "cad.updateRecord(record)", [record], f"{MANAGER}:261, {WRAP}:221 ([data[0]])"
        ),
        SdkForm(
            "REMOVE_RECORD", "cad.removeRecord(id)", [{"0": s.record_id}], f"{MANAGER}:271, {POSITIONAL}"
        ),
        SdkForm(
            "LOOKUP_INT",
            "cad.lookupByInt({apiId, searchType, value, types})",
            [{"apiId": s.api_id, "searchType": 1, "value": 451, "types": [2, 3]}],
            f"{MANAGER}:281, {WRAP}:225 ([data[0]])",
        ),
        SdkForm(
            "LOOKUP",
            "cad.lookupRecords({first, last, mi, plate, types, partial})",
            [{"first": "John", "last": "Doe", "mi": "", "plate": "", "types": [2, 3], "partial": True}],
            f"{MANAGER}:289, {REST}:518 (object kept), {WRAP}:229 ([object])",
        ),
        SdkForm(
            "APPLY_PERMISSION_KEY",
            "cad.applyPermissionKey(apiId, key)",
            [{"0": s.api_id, "1": "PERM-KEY"}],
            f"{MANAGER}:309, {POSITIONAL}",
        ),
        SdkForm(
            "SET_ACCOUNT_PERMISSIONS",
            "cad.setAccountPermissions({apiId, add, remove})",
            [{"apiId": s.api_id, "add": ["DISPATCH"], "remove": []}],
            f"{MANAGER}:319, {WRAP}:240 ([data[0]])",
        ),
        SdkForm(
            "BAN_USER",
            "cad.banUser({apiId, isBan, isKick})",
            [{"apiId": s.api_id, "isBan": False, "isKick": True}],
            f"{MANAGER}:329, {WRAP}:244 ([data[0]])",
        ),
        SdkForm(
            "SEND_PHOTO",
            "cad.sendPhoto(apiId, url)",
            [{"0": s.api_id, "1": "https://example.com/p.png"}],
            f"{MANAGER}:369, {POSITIONAL}",
        ),
        SdkForm(
            "SET_CLOCK",
            "cad.setClockTime({serverId, currentUtc, currentGame, secondsPerHour})",
            [
                {
                    "serverId": s.server_id,
                    "currentUtc": "2026-04-08T21:31:00Z",
                    "currentGame": "08:00",
                    "secondsPerHour": 120,
                }
            ],
            f"{MANAGER}:137, {REST}:284 (object kept), {WRAP}:256 ([object])",
        ),
        SdkForm(
            "JOIN_COMMUNITY",
            "cad.joinCommunity(internalKey, [account])",
            [{"account": s.account}],
            f"{MANAGER}:163, {REST}:295, {WRAP}:260 (data: the accounts; internalKey beside data)",
        ),
        SdkForm(
            "LEAVE_COMMUNITY",
            "cad.leaveCommunity(internalKey, [account])",
            [{"account": s.account}],
            f"{MANAGER}:189, {REST}:295, {WRAP}:260 (data: the accounts; internalKey beside data)",
        ),
        # --- civilian ---
        SdkForm(
            "GET_CHARACTERS", "cad.getCharacters(apiId)", [{"0": s.api_id}], f"{MANAGER}:379, {POSITIONAL}"
        ),
        SdkForm(
            "NEW_CHARACTER", "cad.createCharacter(record)", [record], f"{MANAGER}:386, {WRAP}:279 ([data[0]])"
        ),
        SdkForm(
            "EDIT_CHARACTER",
            "cad.updateCharacter(record)",
            [record],
            f"{MANAGER}:393, {WRAP}:283 ([data[0]])",
        ),
        SdkForm(
            "REMOVE_CHARACTER",
            "cad.removeCharacter(id)",
            [{"0": s.record_id}],
            f"{MANAGER}:403, {POSITIONAL}",
        ),
        # --- emergency: identifiers ---
        SdkForm(
            "GET_IDENTIFIERS", "cad.getIdentifiers(apiId)", [{"0": s.api_id}], f"{MANAGER}:413, {POSITIONAL}"
        ),
        SdkForm(
            "MODIFY_IDENTIFIER",
            "cad.modifyIdentifier({apiId, action: ADD, identifier})",
            [{"apiId": s.api_id, "action": 0, "identifier": {"unitNum": "1A-05", "name": "Officer Five"}}],
            f"{MANAGER}:423, {WRAP}:287 ([data[0]]); action ADD 0, EDIT 1, REMOVE 2 ({TYPES_AT}:943)",
        ),
        SdkForm(
            "MODIFY_IDENTIFIER",
            "cad.modifyIdentifier({apiId, action: EDIT, identId, identifier})",
            [{"apiId": s.api_id, "action": 1, "identifier": {"unitNum": "1A-09"}, "identId": s.ident_id}],
            f"{MANAGER}:423, {WRAP}:287 ([data[0]])",
        ),
        SdkForm(
            "MODIFY_IDENTIFIER",
            "cad.modifyIdentifier({apiId, action: REMOVE, identId})",
            [{"apiId": s.api_id, "action": 2, "identId": s.spare_ident_id}],
            f"{MANAGER}:423, {WRAP}:287 ([data[0]])",
        ),
        SdkForm(
            "SET_IDENTIFIER",
            "cad.setIdentifier(apiId, identId)",
            [{"0": s.api_id, "1": s.ident_id}],
            f"{MANAGER}:433, {POSITIONAL}",
        ),
        SdkForm(
            "IDENTS_TO_GROUP",
            "cad.setIdentifiersToGroup({serverId, identIds, groupName})",
            [{"serverId": s.server_id, "identIds": [s.ident_id], "groupName": "Adam-1"}],
            f"{MANAGER}:464 (always a list), {REST}:405 (list kept), {WRAP}:291 (the list itself)",
        ),
        # --- emergency: units ---
        SdkForm(
            "UNIT_STATUS",
            "cad.setUnitStatus(apiId, status, serverId)",
            [{"apiId": s.api_id, "status": 2, "serverId": s.server_id}],
            f"{MANAGER}:535, {REST}:374 ({{apiId, account, status, serverId, identIds}}), {WRAP}:389",
        ),
        SdkForm(
            "UNIT_STATUS",
            "cad.setUnitStatus({account, status, serverId})",
            [{"account": s.account, "status": 3, "serverId": s.server_id}],
            f"{MANAGER}:535, {REST}:374, {WRAP}:389",
        ),
        SdkForm(
            "UNIT_STATUS",
            "cad.setUnitStatus(undefined, status, serverId, identIds)",
            [{"status": 4, "serverId": s.server_id, "identIds": [s.ident_id]}],
            f"{MANAGER}:535, {REST}:374, {WRAP}:389",
        ),
        SdkForm(
            "UNIT_PANIC",
            "cad.setUnitPanic(apiId, true)",
            [{"apiId": s.api_id, "isPanic": True}],
            f"{MANAGER}:490, {REST}:393 ({{apiId, account, isPanic, identIds}}), {WRAP}:352 ([object])",
        ),
        SdkForm(
            "UNIT_PANIC",
            "cad.setUnitPanic({account, isPanic: false})",
            [{"account": s.account, "isPanic": False}],
            f"{MANAGER}:490, {REST}:393, {WRAP}:352",
        ),
        SdkForm(
            "UNIT_PANIC",
            "cad.setUnitPanic(undefined, true, identIds)",
            [{"isPanic": True, "identIds": [s.ident_id]}],
            f"{MANAGER}:490, {REST}:393, {WRAP}:352",
        ),
        SdkForm(
            "GET_ACTIVE_UNITS",
            "cad.getActiveUnits({serverId, onlyUnits, includeOffline, limit, offset})",
            [
                {
                    "serverId": s.server_id,
                    "onlyUnits": True,
                    "includeOffline": False,
                    "limit": 100,
                    "offset": 0,
                }
            ],
            f"{MANAGER}:696, {WRAP}:325 ([data[0]])",
        ),
        SdkForm("GET_ACTIVE_UNITS", "cad.getActiveUnits({})", [{}], f"{MANAGER}:696, {WRAP}:325 ([data[0]])"),
        SdkForm(
            "KICK_UNIT",
            "cad.kickUnit(apiId, reason, serverId)",
            [{"0": s.api_id, "1": "Left the server", "2": s.server_id}],
            f"{MANAGER}:709, {POSITIONAL}",
        ),
        SdkForm(
            "UNIT_LOCATION",
            "cad.updateUnitLocations([{apiId, location}])",
            [
                [
                    {"apiId": s.api_id, "location": "Mission Row / Atlee St"},
                    {"apiId": s.other_api_id, "location": "Alta St"},
                ]
            ],
            f"{MANAGER}:902, {WRAP}:385 ([data[0]]: the list nested once)",
        ),
        # --- emergency: map ---
        SdkForm("GET_BLIPS", "cad.getBlips(serverId)", [{"0": s.server_id}], f"{MANAGER}:551, {POSITIONAL}"),
        SdkForm(
            "ADD_BLIP",
            "cad.addBlips({serverId, blip})",
            [[{"serverId": s.server_id, "blip": blip}]],
            f"{MANAGER}:562 (always a list), {WRAP}:302 ([data[0]]: the list nested once)",
        ),
        SdkForm(
            "MODIFY_BLIP",
            "cad.updateBlips({id, tooltip, coordinates})",
            [[{"id": s.blip_id, "coordinates": {"x": 11.0, "y": -21.0}, "tooltip": "PD HQ"}]],
            f"{MANAGER}:573 (always a list), {WRAP}:306 ([data[0]]: the list nested once)",
        ),
        SdkForm("REMOVE_BLIP", "cad.removeBlip(id)", [{"0": s.blip_id}], f"{MANAGER}:583, {POSITIONAL}"),
        SdkForm(
            "SET_STREETSIGN_CONFIG",
            "cad.setStreetSignConfig(serverId, signs)",
            [
                {
                    "0": s.server_id,
                    "1": [{"id": 1, "label": "Alta", "text1": "ALTA ST", "text2": "", "text3": ""}],
                }
            ],
            f"{MANAGER}:915, {POSITIONAL}",
        ),
        SdkForm(
            "UPDATE_STREETSIGN",
            "cad.updateStreetSign(serverId, {ids, text1, text2, text3})",
            [{"0": s.server_id, "1": {"ids": [1], "text1": "CLOSED", "text2": "", "text3": ""}}],
            f"{MANAGER}:928, {POSITIONAL}",
        ),
        # --- emergency: calls ---
        SdkForm(
            "911_CALL",
            "cad.create911Call({serverId, isEmergency, caller, location, description, metaData})",
            [
                {
                    "0": s.server_id,
                    "1": True,
                    "2": "Jane Doe",
                    "3": "Alta St",
                    "4": "Smoke from a window",
                    "5": {"postal": "9001", "x": "425.1"},
                }
            ],
            f"{MANAGER}:594 (six arguments), {POSITIONAL}",
        ),
        SdkForm(
            "911_CALL",
            "cad.create911Call({serverId, isEmergency, caller, location, description})",
            [{"0": s.server_id, "1": False, "2": "John", "3": "Vinewood", "4": "Noise complaint", "5": {}}],
            f"{MANAGER}:590 (metaData defaults to {{}}), {POSITIONAL}",
        ),
        SdkForm(
            "REMOVE_911",
            "cad.remove911Call(serverId, callId)",
            [{"serverId": s.server_id, "callId": s.emergency_id}],
            f"{MANAGER}:613 (an object either way), {REST}:354, {WRAP}:389 ([object])",
        ),
        SdkForm(
            "GET_CALLS",
            "cad.getCalls({serverId, closedLimit, closedOffset})",
            [{"serverId": s.server_id, "closedLimit": 10, "closedOffset": 0}],
            f"{MANAGER}:679, {WRAP}:310 ([data[0]])",
        ),
        SdkForm("GET_CALLS", "cad.getCalls({})", [{}], f"{MANAGER}:679, {WRAP}:310 ([data[0]])"),
        SdkForm(
            "GET_MY_CALL",
            "cad.getMyCall({account})",
            [{"account": s.account}],
            f"{MANAGER}:689, {REST}:277 (object kept), {WRAP}:314 ([object])",
        ),
        SdkForm(
            "NEW_DISPATCH",
            "cad.createDispatch({serverId, origin, ..., units})",
            [dispatch],
            f"{MANAGER}:723, {WRAP}:329 ([data[0]])",
        ),
        SdkForm(
            "NEW_DISPATCH",
            "cad.createDispatch({..., accounts})",
            [{**{k: v for k, v in dispatch.items() if k != "units"}, "accounts": [s.account]}],
            f"{MANAGER}:723, {WRAP}:329 ([data[0]])",
        ),
        SdkForm(
            "EDIT_DISPATCH",
            "cad.editDispatch({serverId, callId, title, priority, primary, trackPrimary, metaData})",
            [
                {
                    "serverId": s.server_id,
                    "callId": s.call_id,
                    "priority": 2,
                    "title": "Robbery in progress",
                    "primary": s.ident_id,
                    "trackPrimary": True,
                    "metaData": {"source": "edit"},
                }
            ],
            f"{MANAGER}:739, {WRAP}:333 ([data[0]])",
        ),
        SdkForm(
            "ATTACH_UNIT",
            "cad.attachUnits(serverId, callId, [apiId])",
            [{"serverId": s.server_id, "callId": s.call_id, "units": [s.other_api_id]}],
            f"{MANAGER}:782 (an object either way), {REST}:412, {WRAP}:363 ([object])",
        ),
        SdkForm(
            "ATTACH_UNIT",
            "cad.attachUnits(serverId, callId, account)",
            [{"serverId": s.server_id, "callId": s.call_id, "account": s.account}],
            f"{MANAGER}:782, {REST}:412, {WRAP}:363",
        ),
        SdkForm(
            "ATTACH_UNIT",
            "cad.attachUnits({serverId, callId, identIds})",
            [{"serverId": s.server_id, "callId": s.call_id, "identIds": [s.ident_id]}],
            f"{MANAGER}:782, {REST}:412, {WRAP}:363",
        ),
        SdkForm(
            "DETACH_UNIT",
            "cad.detachUnits(serverId, [apiId])",
            [{"serverId": s.server_id, "units": [s.api_id]}],
            f"{MANAGER}:823 (an object either way), {REST}:429, {WRAP}:374 ([object])",
        ),
        SdkForm(
            "DETACH_UNIT",
            "cad.detachUnits(serverId, account)",
            [{"serverId": s.server_id, "account": s.account}],
            f"{MANAGER}:823, {REST}:429, {WRAP}:374",
        ),
        SdkForm(
            "SET_CALL_POSTAL",
            "cad.setCallPostal(serverId, callId, postal)",
            [{"0": s.server_id, "1": s.call_id, "2": "7001"}],
            f"{MANAGER}:836, {POSITIONAL}",
        ),
        SdkForm(
            "SET_CALL_PRIMARY",
            "cad.setCallPrimary(serverId, callId, identId, trackPrimary)",
            [{"0": s.server_id, "1": s.call_id, "2": s.ident_id, "3": True}],
            f"{MANAGER}:846, {POSITIONAL}",
        ),
        SdkForm(
            "ADD_CALL_NOTE",
            "cad.addCallNote(serverId, callId, note)",
            [{"serverId": s.server_id, "callId": s.call_id, "note": "Suspect fled north"}],
            f"{MANAGER}:882 (an object; undefined label, noteType dropped), {REST}:339, {WRAP}:337",
        ),
        SdkForm(
            "ADD_CALL_NOTE",
            "cad.addCallNote(serverId, callId, note, 'link', label)",
            [
                {
                    "serverId": s.server_id,
                    "callId": s.call_id,
                    "note": "https://example.com/cam",
                    "label": "Camera",
                    "noteType": "link",
                }
            ],
            f"{MANAGER}:882, {REST}:339, {WRAP}:337",
        ),
        SdkForm(
            "CLOSE_CALL",
            "cad.closeCall(serverId, callId)",
            [{"serverId": s.server_id, "callId": s.call_id}],
            f"{MANAGER}:892 (two arguments), {REST}:364 ({{serverId, callId}}), {WRAP}:348 ([object])",
        ),
    ]
