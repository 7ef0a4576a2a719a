// The plan and limits section: the community's plan and API switch, and each operation's per-key rate
// limit (its default, the community's override, and what applies).

import { api, del, get, patch } from "../api.js";
import { $, fill, h } from "../dom.js";
import { change, useSession } from "./uploads.js";

const ADMIN = "/console/api/admin";

export async function loadLimits(session) {
  useSession(session);
  if (!$("#limits-body")) $("#limits").append(h("div", { id: "limits-body" }));
  draw(await get(`${ADMIN}/limits`));
}

function draw(state) {
  const plan = h(
    "select",
    { id: "plan", name: "plan", "aria-label": "Plan" },
    state.plans.map((name) => h("option", { value: name, selected: name === state.plan }, name)),
  );
  const enabled = h("input", { id: "api-enabled", type: "checkbox", checked: state.apiEnabled });
  const form = h(
    "form",
    { id: "community-form", class: "row" },
    h("label", {}, "Plan ", plan),
    h("label", { class: "check" }, enabled, "API enabled (off: every key of the community is refused)"),
    h("button", { type: "submit" }, "Save"),
  );
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = { plan: plan.value, apiEnabled: enabled.checked };
    await change(() => patch(`${ADMIN}/community`, body), "Plan and API switch saved.", draw);
  };
  fill(
    $("#limits-body"),
    form,
    h("p", { class: "muted" }, "Requests per minute per API key. An override replaces the default for this community."),
    h(
      "table",
      { class: "table", id: "limits-table" },
      h("thead", {}, h("tr", {}, ["Operation", "Default", "Override", "Applies", ""].map((title) => h("th", {}, title)))),
      h("tbody", {}, state.limits.map((row) => limitRow(row, state.maxPerMinute))),
    ),
  );
}

function limitRow(row, max) {
  const input = h("input", { type: "number", min: 1, max, value: row.override ?? "", placeholder: String(row.default), "aria-label": `Override of ${row.operation}` });
  const set = async () => {
    const perMinute = Number(input.value);
    await change(() => api("PUT", `${ADMIN}/limits/${row.operation}`, { perMinute }), `${row.operation}: ${perMinute} per minute.`, draw);
  };
  const clear = async () => {
    await change(() => del(`${ADMIN}/limits/${row.operation}`), `${row.operation}: back to ${row.default} per minute.`, draw);
  };
  return h(
    "tr",
    { dataset: { operation: row.operation }, class: row.override !== null ? "overridden" : null },
    h("td", {}, h("code", {}, row.operation)),
    h("td", { class: "num" }, row.default),
    h("td", { class: "num override" }, row.override ?? "–"),
    h("td", { class: "num applies" }, row.perMinute),
    h(
      "td",
      { class: "actions" },
      input,
      h("button", { type: "button", class: "set-limit", onclick: set }, "Set"),
      row.override !== null ? h("button", { type: "button", class: "clear-limit", onclick: clear }, "Clear") : null,
    ),
  );
}
