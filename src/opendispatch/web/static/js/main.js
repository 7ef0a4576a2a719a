// The dispatcher console: log in, pick a server, follow the live stream, work calls.
//
// Every change is a request to the console API, which runs the same services as the v2 API. The board
// is not patched from events: each event (and each reconnect) refetches it, so what is shown is always
// what is stored, and a dropped connection can leave no gap.

import { ApiError, del, get, patch, post, setCsrfToken } from "./api.js";
import { $, $$, age, clock, fill, h } from "./dom.js";
import { closeDialog, confirmAction, dialogOpen, openForm } from "./forms.js";
import { MapView } from "./map.js";
import { Alarm } from "./sound.js";

const CALL_STATUS = ["Pending", "Active", "Closed"];
// UNIT_STATUS by value: 100 is OFFLINE (a kicked unit).
const UNIT_STATUS = { 0: "Unavailable", 1: "Busy", 2: "Available", 3: "En route", 4: "On scene", 100: "Offline" };
const PRIORITIES = [
  [1, "1 (highest)"],
  [2, "2"],
  [3, "3"],
];
const EVENT_TYPES = [
  "EVENT_911",
  "EVENT_REMOVE_911",
  "EVENT_DISPATCH_NEW",
  "EVENT_DISPATCH_EDIT",
  "EVENT_DISPATCH_CLOSED",
  "EVENT_DISPATCH_NOTE",
  "EVENT_DISPATCH_UNIT_ATTACH",
  "EVENT_DISPATCH_UNIT_DETACH",
  "EVENT_UNIT_STATUS",
  "EVENT_UNIT_PANIC",
  "EVENT_UNIT_LOGIN",
  "EVENT_UNIT_LOGOUT",
  "EVENT_UNIT_GROUP_ADD",
  "EVENT_UNIT_GROUP_REMOVE",
  "EVENT_UNIT_GROUP_CHANGE_NAME",
  "EVENT_BLIPS_CHANGED",
];
const CLOSED_PAGE = 10;
// Unit positions arrive on the stream as unit_positions frames and move markers in place; the board is
// still read again this often, in case a change came by a way that sends no event.
const POLL_MS = 5000;
// Events come in bursts (a call and its units, a batch of closes): the board is read once a moment after
// the first, not once per event. The server limits each session's reads of the board too.
const EVENT_SETTLE_MS = 250;

const state = {
  session: null,
  serverId: null,
  board: null,
  clockOffset: 0, // server time minus this browser's time
  selected: null, // call id
  detail: null,
  nearest: null,
  closedOffset: 0,
  source: null,
  lastEventId: null,
  refreshTimer: null,
  refreshing: false,
  again: false,
  reconnectTimer: null,
  positions: new Map(), // identId → the newest position heard on the stream
  staleUnits: "",
};

let map;
let alarm;

const base = () => `/console/api/servers/${state.serverId}`;
// Changes go through the v2 API itself: the session cookie stands in for the key.
const v2 = () => `/v2/emergency/servers/${state.serverId}`;
const serverNow = () => Date.now() + state.clockOffset;

// -- start, login, logout ---------------------------------------------------------------------------

async function start() {
  alarm = new Alarm($("#mute"));
  map = new MapView($("#map"), { onSelectCall: (id) => select(id) });
  wire();
  renderHelp();
  setInterval(tick, 1000);
  setInterval(() => state.serverId && document.visibilityState === "visible" && scheduleRefresh(0), POLL_MS);
  try {
    enter(await get("/console/api/session"));
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 401) showLogin();
    else toast(problem.message);
  }
}

function showLogin(message = "") {
  stopStream();
  state.session = null;
  $("#app").hidden = true;
  $("#login-screen").hidden = false;
  $("#login-error").textContent = message;
  // A link from the host may carry the community (`/console?community=ID`); else the last one used here.
  const linked = new URLSearchParams(location.search).get("community");
  const remembered = linked || localStorage.getItem("opendispatch.community") || "";
  if (!$("#login-community").value) $("#login-community").value = remembered;
  ($("#login-community").value ? $("#login-username") : $("#login-community")).focus();
  askForCommunity();
}

// A server that holds a single community needs no community id: the field goes away.
async function askForCommunity() {
  let options;
  try {
    options = await get("/console/api/login");
  } catch {
    return; // the form as it is still works
  } finally {
    $("#login-form").dataset.ready = "1";
  }
  const field = $("#login-community");
  $("#login-community-row").hidden = !options.askCommunityId;
  field.required = options.askCommunityId;
  const name = $("#login-community-name");
  name.hidden = options.askCommunityId;
  if (!options.askCommunityId) {
    field.value = "";
    name.textContent = options.communityName;
    if (document.activeElement === field || !document.activeElement || document.activeElement === document.body) {
      $("#login-username").focus();
    }
  }
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  const communityId = form.elements.communityId.value.trim();
  const body = {
    communityId: communityId || null,
    username: form.elements.username.value.trim(),
    password: form.elements.password.value,
  };
  $("#login-error").textContent = "";
  try {
    const session = await post("/console/api/login", body);
    if (communityId) localStorage.setItem("opendispatch.community", communityId);
    form.elements.password.value = "";
    enter(session);
  } catch (problem) {
    $("#login-error").textContent = problem.message;
  }
}

function enter(session) {
  // The board is a dispatcher's: an admin goes to the admin pages, a member to their own page.
  const roles = session.roles || [];
  if (!roles.includes("dispatcher")) {
    location.assign(roles.includes("admin") ? "/console/admin" : "/console/me");
    return;
  }
  $("#to-admin").hidden = !roles.includes("admin");
  state.session = session;
  setCsrfToken(session.csrfToken);
  $("#login-screen").hidden = true;
  $("#app").hidden = false;
  $("#community-name").textContent = session.communityName;
  $("#user-name").textContent = session.username;
  const select = $("#server-select");
  fill(select, session.servers.map((server) => h("option", { value: server.id }, `${server.id} · ${server.name}`)));
  const remembered = Number(localStorage.getItem(`opendispatch.server.${session.communityId}`));
  const first = session.servers.some((server) => server.id === remembered) ? remembered : session.servers[0]?.id;
  if (first !== undefined) pickServer(first);
}

async function logout() {
  try {
    await post("/console/api/logout");
  } finally {
    stopStream();
    location.reload();
  }
}

function pickServer(serverId) {
  stopStream();
  state.serverId = serverId;
  state.board = null;
  state.positions = new Map();
  state.selected = null;
  state.detail = null;
  state.closedOffset = 0;
  state.lastEventId = null;
  $("#server-select").value = String(serverId);
  localStorage.setItem(`opendispatch.server.${state.session.communityId}`, String(serverId));
  renderDetail();
  map.fitted = false;
  connect();
  scheduleRefresh(0);
}

// -- the live stream ------------------------------------------------------------------------------

function connect() {
  clearTimeout(state.reconnectTimer);
  // A fresh EventSource sends no Last-Event-ID, so the last id seen goes in the query: no gap.
  const resume = state.lastEventId ? `?lastEventId=${encodeURIComponent(state.lastEventId)}` : "";
  const source = new EventSource(`${base()}/events${resume}`);
  state.source = source;
  setLive("connecting");
  source.onopen = () => {
    setLive("live");
    scheduleRefresh(0); // whatever happened while away
  };
  source.onerror = () => {
    if (state.source !== source) return;
    setLive("reconnecting");
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (the server answered with an error): find out why, then try again.
      state.reconnectTimer = setTimeout(async () => {
        try {
          await get("/console/api/session");
          if (state.source === source) connect();
        } catch (problem) {
          if (problem instanceof ApiError && problem.status === 401) showLogin("Your session has ended; log in again.");
          else if (state.source === source) connect();
        }
      }, 1000);
    }
  };
  for (const type of EVENT_TYPES) source.addEventListener(type, (event) => onEvent(type, event));
  source.addEventListener("unit_positions", onPositions);
  // Events after our last id were pruned (older than the retention): what is stored is read again.
  source.addEventListener("reload", () => scheduleRefresh(0));
}

// Positions are no stored events (no id, nothing to resume): they update the units in place and the map.
function onPositions(event) {
  let frame;
  try {
    frame = JSON.parse(event.data);
  } catch {
    return;
  }
  if (frame.serverId !== state.serverId) return;
  for (const moved of frame.units || []) state.positions.set(moved.identId, moved);
  if (!state.board) return;
  const units = unitsById();
  for (const moved of frame.units || []) {
    const unit = units.get(moved.identId);
    if (!unit) continue; // a unit the board does not list yet: the next read brings it
    unit.location = moved.location;
    if (moved.coordinates) unit.coordinates = moved.coordinates;
    unit.locatedAt = moved.at;
  }
  plotMap();
}

function stopStream() {
  clearTimeout(state.reconnectTimer);
  if (state.source) state.source.close();
  state.source = null;
}

function onEvent(type, event) {
  if (event.lastEventId) state.lastEventId = event.lastEventId;
  if (type === "EVENT_911") {
    try {
      if (JSON.parse(event.data).call?.isEmergency) {
        alarm.raise();
        $("#queue-title").classList.remove("flash");
        void $("#queue-title").offsetWidth;
        $("#queue-title").classList.add("flash");
      }
    } catch {
      /* a malformed event only skips the alert; the board is read again anyway */
    }
  }
  scheduleRefresh(EVENT_SETTLE_MS);
}

function setLive(status) {
  const live = $("#live");
  live.dataset.state = status;
  live.textContent = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" }[status];
}

// -- reading the board ----------------------------------------------------------------------------

function scheduleRefresh(delay) {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refresh();
  }, delay);
}

async function refresh() {
  if (!state.serverId || !state.session) return;
  if (state.refreshing) {
    state.again = true;
    return;
  }
  state.refreshing = true;
  const serverId = state.serverId;
  try {
    const board = await get(`${base()}/board?closedLimit=${CLOSED_PAGE}&closedOffset=${state.closedOffset}`);
    if (serverId !== state.serverId) return;
    // The board reads saved positions (saved about once a second); a newer one from the stream stays.
    for (const unit of board.units) {
      const seen = state.positions.get(unit.identId);
      if (seen && seen.at >= (unit.locatedAt ?? -Infinity)) {
        unit.location = seen.location;
        if (seen.coordinates) unit.coordinates = seen.coordinates;
        unit.locatedAt = seen.at;
      }
    }
    state.board = board;
    state.clockOffset = board.nowMs - Date.now();
    renderBoard();
    if (state.selected !== null) await loadDetail();
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 429) {
      // Read too often (many consoles' worth of events): read again when the server says, quietly.
      state.refreshing = false;
      state.again = false;
      scheduleRefresh((problem.retryAfter || 1) * 1000);
      return;
    }
    failed(problem);
  } finally {
    state.refreshing = false;
    if (state.again) {
      state.again = false;
      scheduleRefresh(0);
    }
  }
}

function failed(problem) {
  if (problem instanceof ApiError && problem.status === 401) showLogin("Your session has ended; log in again.");
  else toast(problem.message || String(problem));
}

const unitsById = () => new Map((state.board?.units || []).map((unit) => [unit.identId, unit]));
const unitLabel = (unit, id) => (unit ? unit.unitNum || unit.name || `#${unit.identId}` : `#${id}`);

// Where a call is comes from the server (its x/y, else its postal's position): one rule for map and API.
function point(call) {
  return call.point ? { x: call.point.x, y: call.point.y, radius: call.point.radius || 0 } : null;
}

function renderBoard() {
  const board = state.board;
  const units = unitsById();

  // The game server's last heartbeat: how many players it had, and when it said so.
  const beat = board.heartbeat;
  $("#heartbeat").textContent = beat
    ? `${beat.playerCount} players · ${new Date(beat.receivedAtUtc).toLocaleTimeString()}`
    : "No heartbeat yet";

  // Each list holds the newest the board carries; the count is the whole, and a last line says how many
  // more there are (the 911 queue and open calls: older ones; units: higher ids).
  const more = (count, text) => (count ? [text(count)] : []);
  $("#queue-count").textContent = board.emergencyCalls.length + (board.emergencyMore || 0);
  fill(
    $("#queue"),
    board.emergencyCalls.length
      ? [
          ...board.emergencyCalls.map((call) => queueCard(call)),
          ...more(board.emergencyMore, (n) => h("li", { class: "empty more" }, `${n} older 911 calls not shown.`)),
        ]
      : h("li", { class: "empty" }, "No 911 calls waiting."),
  );

  $("#active-count").textContent = board.activeCalls.length + (board.activeMore || 0);
  fill(
    $("#active"),
    board.activeCalls.length
      ? [
          ...board.activeCalls.map((call) => activeRow(call, units)),
          ...more(board.activeMore, (n) =>
            h("tr", { class: "more" }, h("td", { class: "empty", colspan: 9 }, `${n} older open calls not shown.`)),
          ),
        ]
      : h("tr", {}, h("td", { class: "empty", colspan: 9 }, "No open dispatch calls.")),
  );

  $("#units-count").textContent = board.units.length + (board.unitsMore || 0);
  fill(
    $("#units"),
    board.units.length
      ? [
          ...board.units.map((unit) => unitRow(unit)),
          ...more(board.unitsMore, (n) =>
            h("tr", { class: "more" }, h("td", { class: "empty", colspan: 4 }, `${n} more units not shown.`)),
          ),
        ]
      : h("tr", {}, h("td", { class: "empty", colspan: 4 }, "No units on this server.")),
  );

  $("#closed-count").textContent = board.closedCallCount;
  const first = board.closedCallCount ? board.closedOffset + 1 : 0;
  const last = board.closedOffset + board.closedCalls.length;
  $("#closed-range").textContent = `${first}–${last} of ${board.closedCallCount}`;
  $("#closed-newer").disabled = board.closedOffset === 0;
  $("#closed-older").disabled = last >= board.closedCallCount;
  fill(
    $("#closed"),
    board.closedCalls.length
      ? board.closedCalls.map((call) =>
          h(
            "tr",
            { dataset: { call: call.callId }, class: rowClass(call.callId), tabindex: 0, onclick: () => select(call.callId) },
            h("td", { class: "num" }, call.callId),
            h("td", {}, call.code),
            h("td", {}, call.title),
            h("td", {}, call.address),
            h("td", { class: "num" }, call.closedMs ? clock(call.closedMs) : "—"),
          ),
        )
      : h("tr", {}, h("td", { class: "empty", colspan: 5 }, "No closed calls.")),
  );

  plotMap();
  tick();
}

const isStale = (unit) => unit.locatedAt != null && serverNow() - unit.locatedAt > (state.session?.staleAfterMs ?? 30000);

function plotMap() {
  const board = state.board;
  const calls = [];
  for (const call of board.emergencyCalls) {
    const at = point(call);
    if (at) calls.push({ id: call.callId, kind: "911", emergency: call.isEmergency, title: `911 #${call.callId} ${call.caller}: ${call.description}`, ...at });
  }
  for (const call of board.activeCalls) {
    const at = point(call);
    if (at) calls.push({ id: call.callId, kind: "dispatch", emergency: false, title: `#${call.callId} ${call.code} ${call.title}`, ...at });
  }
  const plotted = board.units
    .filter((unit) => unit.coordinates)
    .map((unit) => ({
      id: unit.identId,
      x: unit.coordinates.x,
      y: unit.coordinates.y,
      heading: unit.coordinates.w,
      stale: isStale(unit),
      status: unit.status,
      panic: unit.isPanic,
      callId: unit.callId,
      label: unitLabel(unit),
      title:
        `${unitLabel(unit)} ${unit.name} · ${UNIT_STATUS[unit.status]}${unit.isPanic ? " · PANIC" : ""}` +
        (isStale(unit) ? ` · position ${age(unit.locatedAt, serverNow())} old` : ""),
    }));
  state.staleUnits = plotted.filter((unit) => unit.stale).map((unit) => unit.id).join(",");
  map.update({ mapInfo: board.map, calls, units: plotted, blips: board.blips || [], selected: state.selected });
}

const rowClass = (callId) => (callId === state.selected ? "selected" : null);

function queueCard(call) {
  const postal = call.metaData.postal ? ` · postal ${call.metaData.postal}` : "";
  return h(
    "li",
    {
      class: `card ${call.isEmergency ? "emergency" : "civil"}${call.callId === state.selected ? " selected" : ""}`,
      dataset: { call: call.callId },
      tabindex: 0,
      onclick: () => select(call.callId),
    },
    h(
      "div",
      { class: "card-head" },
      call.isEmergency ? h("span", { class: "badge emergency" }, "⚠ EMERGENCY") : h("span", { class: "badge civil" }, "CIVIL"),
      h("strong", {}, `#${call.callId}`),
      h("span", {}, call.caller),
      call.dispatchCallIds.length ? h("span", { class: "badge linked" }, `→ #${call.dispatchCallIds.join(", #")}`) : null,
      h("span", { class: "age", dataset: { since: call.createdMs }, title: clock(call.createdMs) }),
    ),
    h("div", { class: "where" }, call.location + postal),
    h("div", { class: "what" }, call.description),
  );
}

function activeRow(call, units) {
  const attached = call.idents.map((id) => unitLabel(units.get(id), id));
  const primary = call.primary === -1 ? "—" : unitLabel(units.get(call.primary), call.primary);
  return h(
    "tr",
    { dataset: { call: call.callId }, class: rowClass(call.callId), tabindex: 0, onclick: () => select(call.callId) },
    h("td", { class: "num" }, call.callId),
    h("td", { class: `pri pri-${call.priority}` }, `P${call.priority}`),
    h("td", { class: "status-text" }, CALL_STATUS[call.status]),
    h("td", {}, call.code),
    h("td", {}, call.title),
    h("td", {}, [call.address, call.postal ? ` · ${call.postal}` : ""].join("")),
    h("td", { class: "attached" }, attached.join(", ") || "—"),
    h("td", {}, primary),
    h("td", { class: "age", dataset: { since: call.createdMs } }),
  );
}

function statusSelect(unit) {
  return h(
    "select",
    {
      class: "unit-status",
      "aria-label": `Status of ${unitLabel(unit)}`,
      onclick: (event) => event.stopPropagation(),
      onchange: (event) => setUnitStatus(unit.identId, Number(event.target.value)),
    },
    Object.entries(UNIT_STATUS).map(([value, label]) =>
      h("option", { value, selected: Number(value) === unit.status }, label),
    ),
  );
}

function unitRow(unit) {
  return h(
    "tr",
    { class: unit.isPanic ? "panic" : null, dataset: { unit: unit.identId }, onclick: () => unit.callId && select(unit.callId) },
    h("td", {}, unitLabel(unit), unit.isPanic ? [" ", h("span", { class: "badge panic" }, "PANIC")] : null),
    h("td", {}, unit.name),
    h("td", {}, statusSelect(unit)),
    h("td", {}, unit.callId ? h("a", { href: "#", onclick: (event) => { event.preventDefault(); select(unit.callId); } }, `#${unit.callId}`) : "—"),
  );
}

function tick() {
  const now = serverNow();
  for (const node of $$("[data-since]")) node.textContent = age(Number(node.dataset.since), now);
  // A unit that stopped reporting turns stale on the map without any new data.
  const stale = (state.board?.units || []).filter((unit) => unit.coordinates && isStale(unit));
  if (stale.map((unit) => unit.identId).join(",") !== (state.staleUnits ?? "")) plotMap();
}

// -- one call -------------------------------------------------------------------------------------

function select(callId) {
  state.selected = callId;
  for (const node of $$("[data-call].selected, .card.selected")) node.classList.remove("selected");
  for (const node of $$(`#queue [data-call="${callId}"], #active [data-call="${callId}"], #closed [data-call="${callId}"]`)) {
    node.classList.add("selected");
    node.scrollIntoView({ block: "nearest" });
  }
  map.selected = callId;
  map.render();
  loadDetail();
}

async function loadDetail() {
  const callId = state.selected;
  if (callId === null) return renderDetail();
  try {
    const detail = await get(`${base()}/calls/${callId}`);
    let nearest = null;
    if (detail.point) nearest = await get(`${base()}/calls/${callId}/nearest-units?limit=5`).catch(() => null);
    if (state.selected !== callId) return;
    state.detail = detail;
    state.nearest = nearest;
  } catch (problem) {
    if (!(problem instanceof ApiError && problem.status === 404)) return failed(problem);
    state.detail = null;
    state.nearest = null;
  }
  renderDetail();
}

const selectedDispatch = () => (state.detail?.kind === "dispatch" ? state.detail.dispatch : null);
const selectedEmergency = () => (state.detail?.kind === "emergency" ? state.detail.emergency : null);

function button(label, key, onclick, extra = {}) {
  return h("button", { type: "button", onclick, title: key ? `${label} (${key})` : label, ...extra }, label, key ? h("kbd", {}, key) : null);
}

function renderDetail() {
  const body = $("#detail");
  const detail = state.detail;
  if (state.selected === null) return fill(body, h("p", { class: "muted" }, "Select a call (j / k)."));
  if (!detail) return fill(body, h("p", { class: "muted" }, `Call #${state.selected} is no longer on this server.`));
  const parts = detail.kind === "emergency" ? emergencyDetail(detail.emergency) : dispatchDetail(detail.dispatch);
  if (detail.snapshotUrl) {
    const version = detail.kind === "emergency" ? detail.emergency.updated : detail.dispatch.updated;
    parts.push(h("h4", {}, "Location"), h("img", { class: "snapshot", src: `${detail.snapshotUrl}?v=${encodeURIComponent(version)}`, alt: `Map around call #${state.selected}` }));
  }
  if (detail.point) parts.push(...nearestPart(detail));
  parts.push(h("h4", {}, "History"), historyList(detail.history));
  fill(body, parts);
  tick();
}

function emergencyDetail(call) {
  const meta = Object.entries(call.metaData).filter(([key]) => !["x", "y", "z"].includes(key));
  return [
    h("h3", {}, call.isEmergency ? h("span", { class: "badge emergency" }, "⚠ EMERGENCY") : h("span", { class: "badge civil" }, "CIVIL"), ` 911 call #${call.callId}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Caller"), h("dd", {}, call.caller),
      h("dt", {}, "Location"), h("dd", {}, call.location),
      h("dt", {}, "Description"), h("dd", {}, call.description),
      h("dt", {}, "Received"), h("dd", {}, `${clock(call.createdMs)} · `, h("span", { class: "age", dataset: { since: call.createdMs } }), " ago"),
      meta.map(([key, value]) => [h("dt", {}, key), h("dd", {}, value)]),
      call.dispatchCallIds.length ? [h("dt", {}, "Dispatched as"), h("dd", {}, call.dispatchCallIds.map((id) => h("a", { href: "#", onclick: (e) => { e.preventDefault(); select(id); } }, `#${id} `)))] : null,
    ),
    h(
      "div",
      { class: "actions" },
      button("Create dispatch call", "d", () => newDispatch(), { class: "primary", id: "act-dispatch" }),
      button("Remove", "r", () => remove911(), { class: "danger", id: "act-remove" }),
    ),
  ];
}

function dispatchDetail(call) {
  const units = unitsById();
  const closed = call.status === 2;
  return [
    h("h3", {}, h("span", { class: `pri pri-${call.priority}` }, `P${call.priority}`), ` ${call.code} · ${call.title} `, h("span", { class: "muted" }, `#${call.callId}`)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"), h("dd", { id: "detail-status" }, CALL_STATUS[call.status]),
      h("dt", {}, "Address"), h("dd", {}, call.address),
      h("dt", {}, "Postal"), h("dd", {}, call.postal || "—"),
      h("dt", {}, "Block"), h("dd", {}, call.block || "—"),
      h("dt", {}, "Description"), h("dd", {}, call.description),
      h("dt", {}, "Opened"), h("dd", {}, `${clock(call.createdMs)} · `, h("span", { class: "age", dataset: { since: call.createdMs } }), " ago"),
      call.sourceCallId ? [h("dt", {}, "From 911 call"), h("dd", {}, `#${call.sourceCallId}`)] : null,
    ),
    h(
      "div",
      { class: "actions" },
      closed
        ? button("Reopen", null, () => reopen(), { id: "act-reopen" })
        : [
            button("Edit", "e", () => editCall(), { id: "act-edit" }),
            button("Attach units", "a", () => attachUnits(), { id: "act-attach" }),
            button("Attach nearest", "A", () => attachNearest(), { id: "act-nearest" }),
          ],
      button("Add note", "n", () => addNote(), { id: "act-note" }),
      closed ? null : button("Close call", "x", () => closeCall(), { class: "danger", id: "act-close" }),
    ),
    h("h4", {}, "Units"),
    call.idents.length
      ? h(
          "ul",
          { class: "list", id: "detail-units" },
          call.idents.map((id) => {
            const unit = units.get(id);
            return h(
              "li",
              { dataset: { unit: id } },
              h("strong", {}, unitLabel(unit, id)),
              h("span", { class: "grow" }, unit?.name || ""),
              id === call.primary ? h("span", { class: "badge primary" }, "★ PRIMARY") : button("Make primary", null, () => makePrimary(id)),
              unit ? statusSelect(unit) : null,
              closed ? null : button("Detach", null, () => detach(id)),
            );
          }),
        )
      : h("p", { class: "muted" }, "No units attached."),
    h("h4", {}, "Notes"),
    call.notes.length
      ? h("ul", { class: "list notes", id: "detail-notes" }, call.notes.map((note) => h("li", {}, h("time", {}, clock(note.time)), note.label ? h("strong", {}, `${note.label}: `) : null, note.content)))
      : h("p", { class: "muted" }, "No notes."),
  ];
}

function nearestPart(detail) {
  const rows = state.nearest?.units || [];
  const dispatch = detail.kind === "dispatch" && detail.dispatch.status !== 2;
  return [
    h("h4", {}, "Nearest available units"),
    rows.length
      ? h(
          "ul",
          { class: "list", id: "detail-nearest" },
          rows.map((unit) =>
            h(
              "li",
              {},
              h("strong", {}, unit.unitNum || unit.name || `#${unit.identId}`),
              h("span", { class: "grow" }, unit.name),
              h("span", { class: "muted" }, `${Math.round(unit.distance)} units away`),
              dispatch ? button("Attach", null, () => attach([unit.identId])) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, "No available unit has reported its position."),
  ];
}

function describe(entry) {
  const d = entry.details || {};
  const units = unitsById();
  const unit = (id) => unitLabel(units.get(id), id);
  switch (entry.action) {
    case "created":
      return d.sourceCallId ? `created from 911 call #${d.sourceCallId}` : "created";
    case "dispatched":
      return `dispatched as call #${d.dispatchCallId}`;
    case "field_changed":
      return `${d.field}: ${JSON.stringify(d.before)} → ${JSON.stringify(d.after)}`;
    case "status_changed":
      return `status ${CALL_STATUS[d.before] ?? d.before} → ${CALL_STATUS[d.after] ?? d.after}`;
    case "unit_attached":
      return `${unit(d.identId)} attached`;
    case "unit_detached":
      return `${unit(d.identId)} detached`;
    case "primary_changed":
      return d.identId === -1 ? "primary cleared" : `${unit(d.identId)} is primary`;
    case "unit_status":
      return `${unit(d.identId)} ${UNIT_STATUS[d.status] ?? d.status}`;
    case "note_added":
      return `note: ${d.label ? `${d.label}: ` : ""}${d.content}`;
    default:
      return entry.action.replace("_", " ");
  }
}

function historyList(entries) {
  return h(
    "ul",
    { class: "list history", id: "detail-history" },
    entries
      .slice()
      .reverse()
      .map((entry) => h("li", {}, h("time", {}, clock(entry.time)), h("span", { class: "who" }, entry.actor.name), " ", describe(entry))),
  );
}

// -- actions --------------------------------------------------------------------------------------

async function act(work, message) {
  try {
    const result = await work();
    if (message) toast(message, "info");
    scheduleRefresh(0);
    return result;
  } catch (problem) {
    failed(problem);
    return undefined;
  }
}

function metaFrom(values, start = {}) {
  const meta = { ...start };
  for (const key of ["postal", "x", "y", "radius"]) {
    if (!(key in values)) continue;
    const value = String(values[key]).trim();
    if (value) meta[key] = value;
    else delete meta[key];
  }
  return meta;
}

function new911() {
  openForm({
    title: "New 911 call",
    testId: "new-911",
    submitLabel: "Create 911 call",
    fields: [
      { name: "isEmergency", label: "Emergency (not a civil call)", type: "checkbox", value: true },
      { name: "caller", label: "Caller", required: true },
      { name: "location", label: "Location", required: true, maxlength: 1024 },
      { name: "description", label: "Description", type: "textarea", required: true, wide: true },
      { name: "postal", label: "Postal", maxlength: 64 },
      { name: "x", label: "x", inputmode: "decimal" },
      { name: "y", label: "y", inputmode: "decimal" },
    ],
    onSubmit: async (values) => {
      const created = await post(`${v2()}/calls/911`, {
        isEmergency: values.isEmergency,
        caller: values.caller,
        location: values.location,
        description: values.description,
        metaData: metaFrom({ postal: values.postal, x: values.x, y: values.y }),
      });
      state.selected = created.callId;
      scheduleRefresh(0);
    },
  });
}

function unitChoices(exclude = []) {
  const order = [2, 3, 4, 1, 0]; // available first
  return (state.board?.units || [])
    .filter((unit) => !exclude.includes(unit.identId))
    .sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status) || a.identId - b.identId)
    .map((unit) => [unit.identId, `${unitLabel(unit)} ${unit.name}`, `${UNIT_STATUS[unit.status]}${unit.callId ? ` · on #${unit.callId}` : ""}`]);
}

function dispatchFields(call, { creating, fromDraft }) {
  const meta = call.metaData || {};
  const fields = [
    { name: "title", label: "Title", value: call.title, required: true, wide: true },
    { name: "code", label: "Code", value: call.code, maxlength: 64 },
    { name: "priority", label: "Priority", type: "select", options: PRIORITIES, value: call.priority },
    {
      name: "status",
      label: "Status",
      type: "select",
      options: (creating ? [0, 1] : [0, 1, 2]).map((value) => [value, CALL_STATUS[value]]),
      value: call.status,
    },
    { name: "postal", label: "Postal", value: call.postal, maxlength: 64 },
    { name: "address", label: "Address", value: call.address, maxlength: 1024, wide: true },
    { name: "block", label: "Block", value: call.block },
    { name: "radius", label: "Radius", value: meta.radius || "", inputmode: "decimal" },
    { name: "x", label: "x", value: meta.x || "", inputmode: "decimal" },
    { name: "y", label: "y", value: meta.y || "", inputmode: "decimal" },
    { name: "description", label: "Description", type: "textarea", value: call.description, wide: true },
  ];
  if (creating) fields.push({ name: "identIds", label: "Attach units", type: "units", options: unitChoices(), value: [] });
  if (fromDraft) fields.push({ name: "removeSource", label: `Remove 911 call #${fromDraft} from the queue`, type: "checkbox", value: true });
  return fields;
}

async function newDispatch(fromSelected = true) {
  const emergency = fromSelected ? selectedEmergency() : null;
  let draft = null;
  if (emergency) {
    draft = await get(`${base()}/calls/${emergency.callId}/draft`).catch((problem) => (failed(problem), null));
    if (!draft) return;
  }
  const call = draft || { title: "", code: "", priority: 2, status: 1, postal: "", address: "", block: "", description: "", metaData: {} };
  openForm({
    title: draft ? `Dispatch call from 911 call #${draft.sourceCallId}` : "New dispatch call",
    testId: "dispatch",
    submitLabel: "Create dispatch call",
    fields: dispatchFields(call, { creating: true, fromDraft: draft?.sourceCallId }),
    onSubmit: async (values) => {
      const body = {
        origin: 0,
        status: Number(values.status),
        priority: Number(values.priority),
        block: values.block,
        address: values.address,
        postal: values.postal,
        title: values.title,
        code: values.code,
        description: values.description,
        notes: draft ? draft.notes : [],
        communityUserIds: [],
        metaData: metaFrom({ x: values.x, y: values.y, radius: values.radius }, call.metaData),
        identIds: values.identIds,
      };
      if (draft) {
        body.sourceCallId = draft.sourceCallId;
        body.removeSource = values.removeSource;
      }
      const created = await post(`${base()}/dispatch-calls`, body);
      state.selected = created.callId;
      scheduleRefresh(0);
    },
  });
}

function editCall() {
  const call = selectedDispatch();
  if (!call) return;
  openForm({
    title: `Edit call #${call.callId}`,
    testId: "edit",
    fields: dispatchFields(call, { creating: false }),
    onSubmit: async (values) => {
      const changes = {};
      for (const name of ["title", "code", "postal", "address", "block", "description"]) {
        if (values[name] !== call[name]) changes[name] = values[name];
      }
      for (const name of ["priority", "status"]) {
        if (Number(values[name]) !== call[name]) changes[name] = Number(values[name]);
      }
      const meta = metaFrom({ x: values.x, y: values.y, radius: values.radius }, call.metaData);
      if (JSON.stringify(meta) !== JSON.stringify(call.metaData)) changes.metaData = meta;
      if (Object.keys(changes).length) await patch(`${v2()}/dispatch-calls/${call.callId}`, changes);
      scheduleRefresh(0);
    },
  });
}

function attachUnits() {
  const call = selectedDispatch();
  if (!call || call.status === 2) return;
  openForm({
    title: `Attach units to call #${call.callId}`,
    testId: "attach",
    submitLabel: "Attach",
    fields: [{ name: "identIds", label: "Units (a unit on another call moves here)", type: "units", options: unitChoices(call.idents), value: [] }],
    onSubmit: async (values) => {
      if (!values.identIds.length) throw new Error("Tick at least one unit.");
      await attach(values.identIds, true);
    },
  });
}

async function attach(identIds, raise = false) {
  const call = selectedDispatch();
  if (!call) return;
  const work = () => post(`${v2()}/dispatch-calls/${call.callId}/attachments`, { identIds });
  if (raise) {
    await work();
    scheduleRefresh(0);
  } else {
    await act(work);
  }
}

function attachNearest() {
  const call = selectedDispatch();
  if (!call || call.status === 2) return;
  act(() => post(`${base()}/dispatch-calls/${call.callId}/attach-nearest`));
}

function detach(identId) {
  const call = selectedDispatch();
  if (call) act(() => post(`${base()}/dispatch-calls/${call.callId}/detachments`, { identIds: [identId] }));
}

function makePrimary(identId) {
  const call = selectedDispatch();
  if (call) act(() => patch(`${v2()}/dispatch-calls/${call.callId}/primary`, { identId, trackPrimary: call.trackPrimary }));
}

function addNote() {
  const call = selectedDispatch();
  if (!call) return;
  openForm({
    title: `Note on call #${call.callId}`,
    testId: "note",
    submitLabel: "Add note",
    fields: [
      { name: "note", label: "Note", type: "textarea", required: true, wide: true },
      { name: "label", label: "Label (optional)", value: "" },
    ],
    onSubmit: async (values) => {
      await post(`${v2()}/dispatch-calls/${call.callId}/notes`, { note: values.note, noteType: "text", label: values.label });
      scheduleRefresh(0);
    },
  });
}

function closeCall() {
  const call = selectedDispatch();
  if (!call || call.status === 2) return;
  confirmAction({
    title: `Close call #${call.callId}?`,
    message: `${call.code} ${call.title} — its units are cleared.`,
    confirmLabel: "Close call",
    onConfirm: async () => {
      await post(`${v2()}/dispatch-calls/close`, { callIds: [call.callId] });
      scheduleRefresh(0);
    },
  });
}

function reopen() {
  const call = selectedDispatch();
  if (call) act(() => patch(`${v2()}/dispatch-calls/${call.callId}`, { status: 1 }));
}

function remove911() {
  const call = selectedEmergency();
  if (!call) return;
  confirmAction({
    title: `Remove 911 call #${call.callId}?`,
    message: `${call.caller}: ${call.description}`,
    confirmLabel: "Remove",
    onConfirm: async () => {
      await del(`${v2()}/calls/911/${call.callId}`);
      scheduleRefresh(0);
    },
  });
}

async function findPostal(event) {
  event.preventDefault();
  const code = $("#postal-input").value.trim();
  if (!code) return;
  try {
    map.markPostal(await get(`/console/api/postals/${encodeURIComponent(code)}`));
  } catch (problem) {
    failed(problem);
  }
}

function setUnitStatus(identId, status) {
  act(() => patch(`${v2()}/units/status`, { identIds: [identId], status }));
}

// -- keyboard, help, toast ------------------------------------------------------------------------

function moveSelection(step) {
  const order = [...(state.board?.emergencyCalls || []).map((c) => c.callId), ...(state.board?.activeCalls || []).map((c) => c.callId)];
  if (!order.length) return;
  const at = order.indexOf(state.selected);
  const next = at === -1 ? (step > 0 ? 0 : order.length - 1) : Math.min(order.length - 1, Math.max(0, at + step));
  select(order[next]);
}

function pageClosed(step) {
  const board = state.board;
  if (!board) return;
  const offset = Math.max(0, state.closedOffset + step * CLOSED_PAGE);
  if (offset >= board.closedCallCount && step > 0) return;
  state.closedOffset = offset;
  scheduleRefresh(0);
}

const KEYS = [
  ["?", "Show or hide this help", () => toggleHelp()],
  ["j / ↓", "Next call", () => moveSelection(1), ["j", "ArrowDown"]],
  ["k / ↑", "Previous call", () => moveSelection(-1), ["k", "ArrowUp"]],
  ["9", "New 911 call", () => new911()],
  ["d", "Dispatch call (from the selected 911 call, or a new one)", () => newDispatch()],
  ["e", "Edit the selected dispatch call", () => editCall()],
  ["a", "Attach units", () => attachUnits()],
  ["A", "Attach the nearest available unit", () => attachNearest()],
  ["n", "Add a note", () => addNote()],
  ["x", "Close the selected dispatch call", () => closeCall()],
  ["r / Del", "Remove the selected 911 call", () => remove911(), ["r", "Delete"]],
  ["m", "Mute or unmute the emergency alert", () => alarm.toggle()],
  ["+ / −", "Zoom the map in / out", null, []],
  ["0", "Fit the map", () => map.fit()],
  ["[ / ]", "Newer / older closed calls", null, []],
  ["s", "Choose the server", () => $("#server-select").focus()],
  ["Esc", "Close a dialog or this help; clear the selection", null, []],
];

const EXTRA_KEYS = {
  "+": () => map.zoomAt(1.5),
  "=": () => map.zoomAt(1.5),
  "-": () => map.zoomAt(1 / 1.5),
  "[": () => pageClosed(-1),
  "]": () => pageClosed(1),
};

function renderHelp() {
  fill(
    $("#help-keys"),
    KEYS.map(([keys, what]) => h("tr", {}, h("td", {}, keys.split(" / ").map((key, i) => [i ? " / " : "", h("kbd", {}, key)])), h("td", {}, what))),
  );
}

function toggleHelp(show) {
  const help = $("#help");
  help.hidden = show === undefined ? !help.hidden : !show;
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (dialogOpen()) return; // the dialog handles Enter and Esc itself
  if (!$("#help").hidden) {
    if (event.key === "Escape" || event.key === "?") toggleHelp(false);
    event.preventDefault();
    return;
  }
  const typing = event.target.closest?.("input, textarea, select");
  if (typing) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (!state.session || $("#app").hidden) return;
  if (event.key === "Escape") {
    state.selected = null;
    state.detail = null;
    renderDetail();
    for (const node of $$(".selected")) node.classList.remove("selected");
    map.selected = null;
    map.render();
    return;
  }
  if (event.key === "Enter" && event.target.dataset?.call) {
    select(Number(event.target.dataset.call));
    return;
  }
  for (const [label, , run, keys] of KEYS) {
    if (run && (keys || [label]).includes(event.key)) {
      event.preventDefault();
      run();
      return;
    }
  }
  if (EXTRA_KEYS[event.key]) {
    event.preventDefault();
    EXTRA_KEYS[event.key]();
  }
}

let toastTimer;
function toast(message, kind = "error") {
  const node = $("#toast");
  node.textContent = message;
  node.className = `toast ${kind}`;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 4000);
}

function wire() {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#server-select").addEventListener("change", (event) => pickServer(Number(event.target.value)));
  $("#new-911").addEventListener("click", () => new911());
  $("#new-dispatch").addEventListener("click", () => newDispatch(false)); // always a blank one
  $("#mute").addEventListener("click", () => alarm.toggle());
  $("#help-button").addEventListener("click", () => toggleHelp());
  $("#help").addEventListener("click", (event) => event.target.id === "help" && toggleHelp(false));
  $("#zoom-in").addEventListener("click", () => map.zoomAt(1.5));
  $("#zoom-out").addEventListener("click", () => map.zoomAt(1 / 1.5));
  $("#zoom-fit").addEventListener("click", () => map.fit());
  $("#postal-search").addEventListener("submit", findPostal);
  $("#closed-newer").addEventListener("click", () => pageClosed(-1));
  $("#closed-older").addEventListener("click", () => pageClosed(1));
  document.addEventListener("keydown", onKey);
  window.addEventListener("beforeunload", stopStream);
}

start();
