"""Wire format of the console: login, the board, call details, map settings, nearest units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from opendispatch.calls.schemas import DispatchCall, EmergencyCall, NewDispatchCall
from opendispatch.communities.schemas import HeartbeatReceived, Server
from opendispatch.history.schemas import Actor, HistoryEntry, UnitTimeline
from opendispatch.maps.schemas import Blip
from opendispatch.schemas import Id
from opendispatch.units.schemas import Coordinates, Unit

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The dispatcher behind a console session cookie."""

    community_id: str
    account_uuid: str
    username: str
    community_user_id: str | None
    token_hash: str
    csrf_token: str
    expires_at: int
    roles: frozenset[str] = frozenset()  # of accounts.schemas.ROLES

    @property
    def actor(self) -> Actor:
        """How the history and EVENT_911 name this dispatcher.

        An account's only API id here is its linked community user id, so a console 911 call carries
        ``apiIds: [communityUserId]`` when the dispatcher has one.
        """
        linked = self.community_user_id
        return Actor("user", self.username, community_user_id=linked, api_ids=(linked,) if linked else ())


@dataclass(frozen=True, slots=True)
class Dispatcher:
    """An account that may log in to the console (a password, a role, enabled)."""

    account_uuid: str
    community_id: str
    username: str
    community_user_id: str | None
    password_hash: str


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Login(_Request):
    """Body of ``POST /console/api/login``."""

    # Optional while the server holds one community: a dispatcher then types only a name and password.
    communityId: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    username: Annotated[str, Field(min_length=1, max_length=255)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class LoginOptions(BaseModel):
    """What the login form must ask for: the community id only when the server holds several."""

    communityId: str | None
    communityName: str | None
    askCommunityId: bool


class SessionInfo(BaseModel):
    """Who is logged in, the community's servers, and the token every change must carry."""

    username: str
    communityId: str
    communityName: str
    communityUserId: str | None
    csrfToken: str
    expires: str
    servers: list[Server]
    roles: list[str] = []  # admin, dispatcher, member: what the pages offer (the server checks each call)
    accountUuid: str = ""  # the logged-in account's
    # A unit whose last position is older than this is drawn as stale (OPENDISPATCH_POSITION_STALE_SECONDS).
    staleAfterMs: int = 30_000


class MapInfo(BaseModel):
    """A server's map image: where to fetch it and the game coordinates of its corners."""

    imageUrl: str
    width: int
    height: int
    # [x1, y1, x2, y2]: top-left and bottom-right corners in game coordinates.
    bounds: list[float]
    updated: str


class CallPoint(BaseModel):
    """Where a call is on the map: its metaData ``x``, ``y`` (and ``radius``), else its postal's position."""

    x: float
    y: float
    radius: float | None
    fromPostal: bool = False  # placed by its postal, having no x/y of its own


class ConsoleEmergencyCall(EmergencyCall):
    """A 911 call on the board: when it came in, and the dispatch calls made from it."""

    createdMs: int
    dispatchCallIds: list[int]
    point: CallPoint | None = None


class ConsoleDispatchCall(DispatchCall):
    """A dispatch call on the board: when it was opened and the 911 call it was made from."""

    createdMs: int
    closedMs: int | None
    sourceCallId: int | None
    point: CallPoint | None = None


class Board(BaseModel):
    """Everything the console shows for one server, in one read."""

    serverId: int
    nowMs: int
    emergencyCalls: list[ConsoleEmergencyCall]  # the newest (web.board.MAX_CALLS_ON_BOARD)
    emergencyMore: int = 0  # 911 calls in the queue besides those listed
    activeCalls: list[ConsoleDispatchCall]  # the newest (web.board.MAX_CALLS_ON_BOARD)
    activeMore: int = 0  # open dispatch calls besides those listed
    closedCalls: list[ConsoleDispatchCall]
    closedCallCount: int
    closedOffset: int
    closedLimit: int
    units: list[Unit]  # by identId (web.board.MAX_UNITS_ON_BOARD)
    unitsMore: int = 0  # units on the server besides those listed
    map: MapInfo | None
    blips: list[Blip] = []
    heartbeat: HeartbeatReceived | None = None  # the game server's last heartbeat


class NearestUnit(BaseModel):
    """An available unit and how far it is from the call (in game units, on the x/y plane)."""

    identId: int
    unitNum: str
    name: str
    department: str
    status: int
    coordinates: Coordinates
    distance: float


class NearestUnits(BaseModel):
    """Answer of ``GET .../nearest-units``: available units, nearest first."""

    callId: int
    x: float
    y: float
    units: list[NearestUnit]


class CallDetail(BaseModel):
    """One call as the console's detail pane shows it, with its history."""

    kind: str  # "emergency" or "dispatch"
    emergency: ConsoleEmergencyCall | None = None
    dispatch: ConsoleDispatchCall | None = None
    point: CallPoint | None
    snapshotUrl: str | None
    history: list[HistoryEntry]
    units: list[UnitTimeline]


class DispatchDraft(BaseModel):
    """A dispatch call pre-filled from a 911 call, for the dispatcher to check and send."""

    sourceCallId: int
    origin: int
    status: int
    priority: int
    block: str
    address: str
    postal: str
    title: str
    code: str
    description: str
    notes: list[dict[str, Any]]
    metaData: dict[str, str]


class ConsoleNewDispatchCall(NewDispatchCall):
    """A dispatch call from the console: optionally made from a 911 call, with units picked by id."""

    sourceCallId: Id | None = None
    removeSource: bool = False
    identIds: list[Id] | None = Field(None, max_length=100)
