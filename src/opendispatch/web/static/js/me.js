// A member's own page: their units (add, edit, delete), the one selected on each server, and the call
// their unit is on. Everything goes to /console/api/me..., which only ever reaches the session's account.

import { ApiError, api, get, post, setCsrfToken } from "./api.js";
import { $, fill, h } from "./dom.js";

const FIELDS = ["unitNum", "name", "department", "district", "subdivision", "rank", "group"];
const CALL_STATUS = { 0: "PENDING", 1: "ACTIVE", 2: "CLOSED" };
const REFRESH_MS = 5000;
let page = null;
let editing = null; // the identId the form edits, or null for a new unit

function say(message) {
  const node = $("#me-toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (node.hidden = true), 5000);
}

async function start() {
  let session;
  try {
    session = await get("/console/api/session");
  } catch (problem) {
    $("#me-denied-text").textContent =
      problem instanceof ApiError && problem.status === 401 ? "Log in to the console first." : problem.message;
    $("#me-denied").hidden = false;
    document.body.dataset.ready = "true";
    return;
  }
  setCsrfToken(session.csrfToken);
  $("#community-name").textContent = session.communityName;
  $("#user-name").textContent = session.username;
  $("#to-console").hidden = !session.roles.includes("dispatcher");
  $("#to-admin").hidden = !session.roles.includes("admin");
  $("#logout").addEventListener("click", logout);
  $("#unit-form").addEventListener("submit", save);
  $("#unit-cancel").addEventListener("click", () => edit(null));
  $("#me").hidden = false;
  await refresh();
  document.body.dataset.ready = "true";
  setInterval(() => document.visibilityState === "visible" && refresh(), REFRESH_MS);
}

async function refresh() {
  try {
    draw(await get("/console/api/me"));
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 401) location.assign("/console");
    else say(problem.message);
  }
}

async function change(method, path, body) {
  try {
    draw(await api(method, path, body));
    return true;
  } catch (problem) {
    say(problem.message);
    return false;
  }
}

function draw(answer) {
  page = answer;
  drawCall();
  drawUnits();
}

function drawCall() {
  const current = page.currentCall;
  const box = $("#my-call");
  if (!current) {
    box.removeAttribute("data-call");
    fill(box, h("p", { class: "muted" }, "No call: your selected unit is on no open dispatch call."));
    return;
  }
  const call = current.call;
  const unit = page.identifiers.find((one) => one.identId === current.identId);
  const server = page.servers.find((one) => one.id === current.serverId);
  box.dataset.call = String(call.callId);
  const where = [call.block, call.address].filter(Boolean).join(" ") + (call.postal ? ` (postal ${call.postal})` : "");
  fill(
    box,
    h("h3", {}, `#${call.callId} `, call.code ? `${call.code} · ` : "", call.title || "Untitled call"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, CALL_STATUS[call.status] ?? String(call.status)),
      h("dt", {}, "Priority"),
      h("dd", {}, String(call.priority)),
      h("dt", {}, "Where"),
      h("dd", {}, where || "—"),
      h("dt", {}, "Details"),
      h("dd", {}, call.description || "—"),
      h("dt", {}, "Your unit"),
      h("dd", {}, unit ? `${unit.unitNum} ${unit.name}` : String(current.identId), server ? ` on ${server.name}` : ""),
      h("dt", {}, "Units"),
      h("dd", {}, `${call.idents.length} attached`),
    ),
    call.notes.length
      ? h("ul", { class: "list" }, call.notes.map((note) => h("li", {}, note.label ? `${note.label}: ` : "", note.content)))
      : null,
  );
}

function drawUnits() {
  const rows = page.identifiers.map((unit) => {
    const selectedOn = page.servers.filter((server) => page.selected[String(server.id)] === unit.identId);
    const choices = page.servers
      .filter((server) => page.selected[String(server.id)] !== unit.identId)
      .map((server) =>
        h(
          "button",
          {
            type: "button",
            dataset: { select: server.id },
            onclick: () => change("PUT", "/console/api/me/selected-identifier", { identId: unit.identId, serverId: server.id }),
          },
          `Select on ${server.name}`,
        ),
      );
    return h(
      "tr",
      { dataset: { unit: unit.identId } },
      FIELDS.map((name) => h("td", { dataset: { field: name } }, unit[name])),
      h("td", { class: "selected-on" }, selectedOn.map((server) => h("span", { class: "badge linked" }, server.name))),
      h(
        "td",
        { class: "actions" },
        choices,
        h("button", { type: "button", class: "edit", onclick: () => edit(unit) }, "Edit"),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: () => confirm(`Delete unit ${unit.unitNum}?`) && change("DELETE", `/console/api/me/identifiers/${unit.identId}`),
          },
          "Delete",
        ),
      ),
    );
  });
  fill($("#my-units tbody"), rows.length ? rows : h("tr", {}, h("td", { class: "empty", colspan: 9 }, "No unit yet: add one below.")));
}

function edit(unit) {
  const form = $("#unit-form");
  editing = unit ? unit.identId : null;
  for (const name of FIELDS) form.elements[name].value = unit ? unit[name] : "";
  $("#unit-form-title").textContent = unit ? `Edit unit ${unit.unitNum}` : "New unit";
  $("#unit-save").textContent = unit ? "Save unit" : "Add unit";
  $("#unit-cancel").hidden = !unit;
  if (unit) form.elements.unitNum.focus();
}

async function save(event) {
  event.preventDefault();
  const form = event.target;
  const body = {};
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value || editing !== null) body[name] = value;
  }
  const done =
    editing === null
      ? await change("POST", "/console/api/me/identifiers", body)
      : await change("PATCH", `/console/api/me/identifiers/${editing}`, body);
  if (done) edit(null);
}

async function logout() {
  try {
    await post("/console/api/logout");
  } finally {
    location.assign("/console");
  }
}

start();
