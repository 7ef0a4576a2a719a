"""The v1 types, one table: each names its area, minimum plan, limit, parser and the service call it makes.

Every type runs on the v2 services; what v1 adds is only that a request's items run in order as one unit
of work, all or none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection

from opendispatch.accounts import service as accounts
from opendispatch.accounts.schemas import Account, ApiIdHolder, VerifiedSecret
from opendispatch.calls import service as calls
from opendispatch.calls.schemas import CallListing, CallTableType, CurrentCall
from opendispatch.communities import service as communities
from opendispatch.communities.schemas import Plan
from opendispatch.errors import DomainError
from opendispatch.events.schemas import ServerSettingsList
from opendispatch.events.service import change_server_settings, server_settings
from opendispatch.history.schemas import Actor
from opendispatch.legacy.map_items import (
    BlipChangeItem,
    BlipItem,
    BlipRemoval,
    BlipsQuery,
    PostalItem,
)
from opendispatch.legacy.schemas import (
    DEFAULT_SERVER_ID,
    MAX_ITEMS,
    MAX_LOCATION_ITEMS,
    AccountQuery,
    ApiIdQuery,
    Attach,
    CallNote,
    CallPostal,
    CallPrimary,
    CallsQuery,
    CloseCall,
    Detach,
    DispatchEdit,
    IdentifierAction,
    IdentifierChange,
    IdentifierChoice,
    IdentifierGroup,
    Kick,
    LocationReport,
    MyCallQuery,
    NewCall911,
    NewDispatch,
    PanicChange,
    Person,
    Query,
    Raw,
    Remove911,
    SecretQuery,
    SetApiIds,
    SetServers,
    StatusChange,
    StreetSignChange,
    StreetSignsItem,
    UnitsQuery,
    V1Identifiers,
    V1Units,
    parse_items,
    parse_query,
    query,
    v1_unit,
)
from opendispatch.maps import service as maps
from opendispatch.maps.schemas import MAX_POSTALS, BlipList
from opendispatch.units import duty
from opendispatch.units import service as units
from opendispatch.units.schemas import KickOrders, SelectIdentifier, UnitLocations

ItemT = TypeVar("ItemT")
Answer = str | BaseModel  # plain text, or a wire model answered as JSON


class ItemFailed(Exception):
    """An item broke a rule of the services; nothing of its request was kept."""

    def __init__(self, label: str, error: DomainError) -> None:
        super().__init__(f"{label}: {error.detail}")
        self.label = label
        self.error = error


@dataclass(frozen=True, slots=True)
class Context:
    """Whom a request acts for, and when."""

    community_id: str
    plan: int
    actor: Actor
    now: int


Run = Callable[[Connection, list[ItemT], Context], Answer]


@dataclass(frozen=True, slots=True)
class V1Type(Generic[ItemT]):
    """One v1 request type: where it is sent, who may send it, its limit, its items and what they do."""

    name: str
    area: str
    min_plan: Plan
    endpoint: str | None  # the v2 twin's rate-limit name (api.limits.DEFAULT_LIMITS); None: not limited
    parse: Callable[[str, Raw], ItemT] | None  # one item into its v2 request; None: ``data`` is not read
    run: Run[ItemT]  # every item, in order, in one unit of work; what it returns is the answer
    writes: bool = True  # False: a reading type, with at most one item, run in a read snapshot
    per_item: bool = True  # each item counts once against the limit; False: the request counts once
    positional: tuple[str, ...] = ()  # field names of the JS SDK's positional items, in order
    max_items: int = MAX_ITEMS
    nested: bool = False  # the JS SDK may wrap the items in one more array

    def items(self, data: Any) -> list[ItemT]:
        """The request's ``data`` parsed; InvalidItems naming each bad field of each bad item."""
        if self.parse is None:
            return []
        if not self.writes:
            return [parse_query(self.name, data, self.parse, self.positional)]
        return parse_items(
            data, self.parse, positional=self.positional, max_items=self.max_items, nested=self.nested
        )

    def cost(self, items: list[ItemT]) -> int:
        """How many requests of its v2 twin the items count as against the limit."""
        return len(items) if self.per_item else 1


class _Labelled(Protocol):
    @property
    def label(self) -> str: ...


LabelledT = TypeVar("LabelledT", bound=_Labelled)


@contextmanager
def _item(label: str) -> Iterator[None]:
    """A service's refusal inside is the item's: ItemFailed names it, and undoes the whole unit of work."""
    try:
        yield
    except DomainError as exc:
        raise ItemFailed(label, exc) from exc


def _each(step: Callable[[Connection, LabelledT, Context], str]) -> Run[LabelledT]:
    """Run ``step`` on every item in order, answering one line per item."""

    def run(conn: Connection, items: list[LabelledT], ctx: Context) -> str:
        lines = []
        for item in items:
            with _item(item.label):
                lines.append(step(conn, item, ctx))
        return "\n".join(lines)

    return run


# -- the service call of each type, and the answer it makes ----------------------------------------------


def _new_911(conn: Connection, item: NewCall911, ctx: Context) -> str:
    created = calls.open_emergency_call(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call=item.call,
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"EMERGENCY CALL ADDED ID: {created.callId}"


def _remove_911(conn: Connection, item: Remove911, ctx: Context) -> str:
    removed = calls.remove_emergency_call(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_id=item.call_id,
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"EMERGENCY CALL REMOVED ID: {removed.callId}"


def _close(conn: Connection, item: CloseCall, ctx: Context) -> str:
    calls.close_calls(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_ids=[item.call_id],
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"DISPATCH CALL {item.call_id} CLOSED"


def _new_dispatch(conn: Connection, item: NewDispatch, ctx: Context) -> str:
    created = calls.open_dispatch_call(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call=item.call,
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"NEW DISPATCH CREATED - ID: {created.callId}"


def _edit_dispatch(conn: Connection, item: DispatchEdit, ctx: Context) -> str:
    calls.update_dispatch_call(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_id=item.call_id,
        changes=item.changes.changes(),
        primary=item.changes.primary,
        track_primary=item.changes.trackPrimary,
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"DISPATCH CALL {item.call_id} UPDATED"


def _attach(conn: Connection, item: Attach, ctx: Context) -> str:
    calls.attach_to_call(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_id=item.call_id,
        targets=item.targets,
        now=ctx.now,
        actor=ctx.actor,
    )
    return "UNITS ATTACHED"


def _detach(conn: Connection, item: Detach, ctx: Context) -> str:
    calls.detach_from_calls(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        targets=item.targets,
        now=ctx.now,
        actor=ctx.actor,
    )
    return "UNITS DETACHED"


def _note(conn: Connection, item: CallNote, ctx: Context) -> str:
    calls.add_note(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_id=item.call_id,
        note=item.note,
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"NOTE '{item.note.note}' added to call #{item.call_id}"


def _postal(conn: Connection, item: CallPostal, ctx: Context) -> str:
    calls.update_dispatch_call(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_id=item.call_id,
        changes={"postal": item.body.postal},
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"CALL {item.call_id} POSTAL SET TO {item.body.postal}"


def _primary(conn: Connection, item: CallPrimary, ctx: Context) -> str:
    calls.set_primary(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        call_id=item.call_id,
        ident_id=item.body.identId,
        track_primary=item.body.trackPrimary,
        now=ctx.now,
        actor=ctx.actor,
    )
    return f"CALL {item.call_id} PRIMARY SET TO {item.body.identId}"


def _status(conn: Connection, item: StatusChange, ctx: Context) -> str:
    units.set_unit_status(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        change=item.change,
        now=ctx.now,
        actor=ctx.actor,
    )
    return "UNIT STATUS UPDATED"


def _panic(conn: Connection, item: PanicChange, ctx: Context) -> str:
    units.set_unit_panic(
        conn, community_id=ctx.community_id, server_id=item.server_id, change=item.change, now=ctx.now
    )
    return "UNIT PANIC UPDATED"


def _kick(conn: Connection, item: Kick, ctx: Context) -> str:
    duty.kick_units(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        orders=KickOrders(item.order),
        now=ctx.now,
        actor=ctx.actor,
    )
    return "UNIT KICKED"


def _group(conn: Connection, item: IdentifierGroup, ctx: Context) -> str:
    grouped = units.set_identifier_group(
        conn,
        community_id=ctx.community_id,
        server_id=item.server_id,
        group=item.group,
        targets=item.targets,
        now=ctx.now,
    )
    return f"Set idents {', '.join(map(str, grouped.identIds))} to group '{item.group}'."


def _account_of(conn: Connection, person: Person, ctx: Context) -> str:
    return units.require_named_account(conn, community_id=ctx.community_id, targets=person.targets)


def _choose(conn: Connection, item: IdentifierChoice, ctx: Context) -> str:
    units.choose_identifier(
        conn,
        community_id=ctx.community_id,
        account_uuid=_account_of(conn, item.person, ctx),
        choice=SelectIdentifier(identId=item.ident_id, serverId=item.person.server_id),
        now=ctx.now,
    )
    return "Identifier Switched!"


def _modify(conn: Connection, changes: list[IdentifierChange], ctx: Context) -> Answer:
    """Each item in order; the answer is the last item's: the identifier as a unit, or the removal line."""
    answer: Answer = ""
    for item in changes:
        with _item(item.label):
            account = _account_of(conn, item.person, ctx)
            if item.action == IdentifierAction.REMOVE:
                assert item.ident_id is not None  # the parser requires it
                units.delete_identifier(
                    conn,
                    community_id=ctx.community_id,
                    account_uuid=account,
                    ident_id=item.ident_id,
                    now=ctx.now,
                )
                answer = f"Identifier {item.ident_id} removed!"
                continue
            if item.action == IdentifierAction.ADD:
                changed = units.create_identifier(
                    conn, community_id=ctx.community_id, account_uuid=account, fields=item.fields, now=ctx.now
                )
            else:
                assert item.ident_id is not None
                changed = units.update_identifier(
                    conn,
                    community_id=ctx.community_id,
                    account_uuid=account,
                    ident_id=item.ident_id,
                    fields=item.fields,
                    now=ctx.now,
                )
            answer = changed.identifier
    return answer


def _identifiers(conn: Connection, people: list[Person], ctx: Context) -> V1Identifiers:
    [person] = people
    with _item(person.label):
        listed = units.list_identifiers(
            conn,
            community_id=ctx.community_id,
            account_uuid=_account_of(conn, person, ctx),
            server_id=person.server_id if person.server_id is not None else DEFAULT_SERVER_ID,
        )
    return V1Identifiers(selectedIdent=listed.SelectedIdent, identifiers=listed.Identifiers)


def _locations(conn: Connection, reports: list[LocationReport], ctx: Context) -> str:
    """One v2 unit-locations batch per server the reports name, in the order the servers first appear."""
    by_server: dict[int, list[LocationReport]] = {}
    for report in reports:
        by_server.setdefault(report.server_id, []).append(report)
    for server_id, batch in by_server.items():
        with _item(batch[0].label):
            units.update_unit_locations(
                conn,
                community_id=ctx.community_id,
                server_id=server_id,
                updates=UnitLocations(updates=[report.update for report in batch]),
                now=ctx.now,
            )
    return "UNIT LOCATION UPDATED"


def _calls(conn: Connection, queries: list[Query[CallsQuery]], ctx: Context) -> CallListing:
    [query] = queries
    with _item(query.label):
        listing = calls.list_calls(
            conn,
            community_id=ctx.community_id,
            server_id=query.params.serverId,
            table_type=CallTableType.SEARCH_ALL,
            closed_limit=query.params.closedLimit,
            closed_offset=query.params.closedOffset,
        )
    return listing


def _my_call(conn: Connection, queries: list[Query[MyCallQuery]], ctx: Context) -> CurrentCall:
    [query] = queries
    with _item(query.label):
        return calls.current_call(conn, community_id=ctx.community_id, account_uuid=query.params.account)


def _units(conn: Connection, queries: list[Query[UnitsQuery]], ctx: Context) -> V1Units:
    [query] = queries
    with _item(query.label):
        found = units.list_units(
            conn,
            community_id=ctx.community_id,
            server_id=query.params.serverId,
            include_offline=query.params.includeOffline,
            only_units=query.params.onlyUnits,
            limit=query.params.limit,
            offset=query.params.offset,
        )
    return V1Units([v1_unit(unit) for unit in found.units])


def _version(conn: Connection, items: list[object], ctx: Context) -> str:
    return str(ctx.plan)


def _servers(conn: Connection, items: list[object], ctx: Context) -> ServerSettingsList:
    # Exactly what v2 GET /v2/general/servers answers: the servers with their push settings.
    return server_settings(conn, ctx.community_id)


def _postals(conn: Connection, items: list[PostalItem], ctx: Context) -> str:
    """The items together are the whole postal list, as v2 Set Postal Config takes it."""
    maps.set_postals(conn, community_id=ctx.community_id, postal_list=[item.postal for item in items])
    return "Success"


def _add_blips(conn: Connection, items: list[BlipItem], ctx: Context) -> BlipList:
    added = []
    for item in items:
        with _item(item.label):
            added.append(
                maps.create_blip(
                    conn, community_id=ctx.community_id, server_id=item.server_id, blip=item.blip, now=ctx.now
                )
            )
    return BlipList(added)


def _modify_blip(conn: Connection, item: BlipChangeItem, ctx: Context) -> str:
    # v1 names no server: blip ids are unique in the community.
    maps.update_blip(
        conn,
        community_id=ctx.community_id,
        server_id=None,
        blip_id=item.blip_id,
        changes=item.changes,
        now=ctx.now,
    )
    return f"Blip {item.blip_id} modified!"


def _remove_blips(conn: Connection, item: BlipRemoval, ctx: Context) -> str:
    removed = maps.delete_blips(
        conn, community_id=ctx.community_id, server_id=None, blip_ids=item.ids, now=ctx.now
    )
    return "\n".join(f"Blip {blip_id} removed!" for blip_id in removed.ids)


def _blips(conn: Connection, queries: list[BlipsQuery], ctx: Context) -> BlipList:
    [query] = queries
    with _item(query.label):
        return BlipList(maps.list_blips(conn, community_id=ctx.community_id, server_id=query.server_id))


def _account(conn: Connection, queries: list[Query[AccountQuery]], ctx: Context) -> Account:
    [query] = queries
    with _item(query.label):
        return accounts.find_account(conn, community_id=ctx.community_id, lookup=query.params.lookup())


def _check_api_id(conn: Connection, queries: list[Query[ApiIdQuery]], ctx: Context) -> ApiIdHolder:
    [query] = queries
    with _item(query.label):
        return accounts.api_id_holder(conn, community_id=ctx.community_id, api_id=query.params.apiId)


def _set_api_ids(conn: Connection, item: SetApiIds, ctx: Context) -> str:
    accounts.set_api_ids(conn, community_id=ctx.community_id, change=item.change)
    return "API IDS SET"


def _verify_secret(conn: Connection, queries: list[Query[SecretQuery]], ctx: Context) -> VerifiedSecret:
    [query] = queries
    with _item(query.label):
        return accounts.verify_secret(conn, community_id=ctx.community_id, secret=query.params.secret)


def _street_signs(conn: Connection, item: StreetSignsItem, ctx: Context) -> str:
    # As v2 answers (the server and how many signs it has now), as one JSON line.
    return communities.set_street_sign_config(
        conn, community_id=ctx.community_id, server_id=item.server_id, config=item.config, now=ctx.now
    ).model_dump_json()


def _street_sign_texts(conn: Connection, item: StreetSignChange, ctx: Context) -> str:
    return communities.update_street_signs(
        conn, community_id=ctx.community_id, server_id=item.server_id, change=item.change, now=ctx.now
    ).model_dump_json()


def _set_servers(conn: Connection, items: list[SetServers], ctx: Context) -> ServerSettingsList:
    # Exactly what v2 PUT /v2/general/servers answers; the JS SDK reads its ``servers``.
    for item in items:
        with _item(item.label):
            change_server_settings(conn, community_id=ctx.community_id, changes=item.changes, now=ctx.now)
    return server_settings(conn, ctx.community_id)


# -- the table -------------------------------------------------------------------------------------------


_CALL_911_FIELDS = ("serverId", "isEmergency", "caller", "location", "description", "metaData")
_CALL_REF_FIELDS = ("serverId", "callId")
_POSTAL_FIELDS = ("serverId", "callId", "postal")
_PRIMARY_FIELDS = ("serverId", "callId", "primary", "trackPrimary")

# Plans follow the JS SDK's table of minimum versions (the hosted product's), except that FREE has no API
# at all: GET_VERSION needs STARTER. GET_VERSION and GET_SERVERS count against their v2 twins' limits like
# every other type (the JS SDK sends both whenever it starts: once each, well within them);
# UNIT_LOCATION's items together make one v2 unit-locations batch, so its request counts once.
# The rows are inferred one by one, so mypy holds each row's parser and service call to one item type (a
# V1Type[Any] context on them would let any pair through); laid out by hand, so the table reads as one.
# fmt: off
TYPES: dict[str, V1Type[Any]] = {
    spec.name: spec
    for spec in (
        # name, area, minimum plan, limit, parser of one item, service call of all items; then the options
        V1Type("CALL_911", "emergency", Plan.STANDARD, "create_911", NewCall911.parse, _each(_new_911),
               positional=_CALL_911_FIELDS),
        V1Type("911_CALL", "emergency", Plan.STANDARD, "create_911", NewCall911.parse, _each(_new_911),
               positional=_CALL_911_FIELDS),
        V1Type("REMOVE_911", "emergency", Plan.STANDARD, "remove_911", Remove911.parse, _each(_remove_911),
               positional=_CALL_REF_FIELDS),
        V1Type("GET_CALLS", "emergency", Plan.PLUS, "get_calls", query(CallsQuery), _calls, writes=False),
        V1Type("GET_MY_CALL", "emergency", Plan.PLUS, "current_call", query(MyCallQuery), _my_call,
               writes=False),
        V1Type("NEW_DISPATCH", "emergency", Plan.PLUS, "create_dispatch", NewDispatch.parse,
               _each(_new_dispatch)),
        V1Type("EDIT_DISPATCH", "emergency", Plan.PLUS, "update_dispatch", DispatchEdit.parse,
               _each(_edit_dispatch)),
        V1Type("ATTACH_UNIT", "emergency", Plan.PLUS, "attach_units", Attach.parse, _each(_attach)),
        V1Type("DETACH_UNIT", "emergency", Plan.PLUS, "detach_units", Detach.parse, _each(_detach)),
        V1Type("ADD_CALL_NOTE", "emergency", Plan.PLUS, "add_note", CallNote.parse, _each(_note)),
        V1Type("CLOSE_CALL", "emergency", Plan.STANDARD, "close_calls", CloseCall.parse, _each(_close),
               positional=_CALL_REF_FIELDS),
        V1Type("SET_CALL_POSTAL", "emergency", Plan.PLUS, "set_postal", CallPostal.parse, _each(_postal),
               positional=_POSTAL_FIELDS),
        V1Type("SET_CALL_PRIMARY", "emergency", Plan.PLUS, "set_primary", CallPrimary.parse, _each(_primary),
               positional=_PRIMARY_FIELDS),
        V1Type("UNIT_STATUS", "emergency", Plan.STANDARD, "unit_status", StatusChange.parse, _each(_status)),
        V1Type("UNIT_PANIC", "emergency", Plan.STANDARD, "unit_panic", PanicChange.parse, _each(_panic)),
        V1Type("UNIT_LOCATION", "emergency", Plan.STANDARD, "unit_locations", LocationReport.parse,
               _locations, per_item=False, max_items=MAX_LOCATION_ITEMS, nested=True),
        V1Type("GET_ACTIVE_UNITS", "emergency", Plan.PLUS, "get_units", query(UnitsQuery), _units,
               writes=False),
        V1Type("ADD_BLIP", "emergency", Plan.PRO, "create_blip", BlipItem.parse, _add_blips, nested=True),
        V1Type("GET_BLIPS", "emergency", Plan.PRO, "get_blips", BlipsQuery.parse, _blips, writes=False),
        V1Type("MODIFY_BLIP", "emergency", Plan.PRO, "update_blip", BlipChangeItem.parse, _each(_modify_blip),
               nested=True),
        V1Type("REMOVE_BLIP", "emergency", Plan.PRO, "delete_blips", BlipRemoval.parse, _each(_remove_blips),
               positional=("ids",)),
        V1Type("SET_POSTALS", "general", Plan.PRO, "set_postals", PostalItem.parse, _postals, per_item=False,
               max_items=MAX_POSTALS, nested=True),
        V1Type("KICK_UNIT", "emergency", Plan.STANDARD, "kick_unit", Kick.parse, _each(_kick),
               positional=("apiId", "reason", "serverId")),
        V1Type("GET_IDENTIFIERS", "emergency", Plan.PLUS, "identifiers", Person.parse, _identifiers,
               writes=False, positional=("apiId",)),
        V1Type("SET_IDENTIFIER", "emergency", Plan.PLUS, "identifiers", IdentifierChoice.parse,
               _each(_choose), positional=("apiId", "identId")),
        V1Type("MODIFY_IDENTIFIER", "emergency", Plan.PRO, "identifiers", IdentifierChange.parse, _modify),
        V1Type("IDENTS_TO_GROUP", "emergency", Plan.PRO, "identifier_group", IdentifierGroup.parse,
               _each(_group), nested=True),
        V1Type("SET_IDENTIFIERS_TO_GROUP", "emergency", Plan.PRO, "identifier_group", IdentifierGroup.parse,
               _each(_group), nested=True),
        V1Type("GET_VERSION", "general", Plan.STARTER, "version", None, _version, writes=False,
               per_item=False),
        V1Type("GET_SERVERS", "general", Plan.STANDARD, "get_servers", None, _servers, writes=False,
               per_item=False),
        V1Type("SET_STREETSIGN_CONFIG", "emergency", Plan.PRO, "street_sign_config", StreetSignsItem.parse,
               _each(_street_signs), positional=("serverId", "signs")),
        V1Type("UPDATE_STREETSIGN", "emergency", Plan.PRO, "street_signs", StreetSignChange.parse,
               _each(_street_sign_texts), positional=("serverId", "update")),
        V1Type("SET_SERVERS", "general", Plan.PLUS, "set_servers", SetServers.parse, _set_servers,
               positional=("servers", "deployMap"), max_items=1),
        V1Type("GET_ACCOUNT", "general", Plan.PLUS, "accounts", query(AccountQuery), _account, writes=False,
               positional=("apiId", "username")),
        V1Type("CHECK_APIID", "general", Plan.STANDARD, "api_ids", query(ApiIdQuery), _check_api_id,
               writes=False, positional=("apiId",)),
        V1Type("SET_API_ID", "general", Plan.STANDARD, "api_ids", SetApiIds.parse, _each(_set_api_ids)),
        V1Type("VERIFY_SECRET", "general", Plan.STANDARD, "verify_secret", query(SecretQuery), _verify_secret,
               writes=False, positional=("secret",)),
    )
}
# fmt: on


def resolve_type(area: str, path_type: str | None, body_type: Any) -> V1Type[Any] | None:
    """The type a request names, or None when it names none we serve or its path and body disagree.

    The body's ``type`` decides; the path's type, when there is one, must be the same in lower case, and
    the path's area must be the type's. A body without ``type`` takes the path's.
    """
    name = body_type if isinstance(body_type, str) and body_type else path_type
    if not name:
        return None
    spec = TYPES.get(name.strip().upper())
    if spec is None or area.lower() != spec.area:
        return None
    if path_type is not None and path_type.lower() != spec.name.lower():
        return None
    return spec
