// The Units section: every account's units with their fields and the servers each is selected on; an
// admin edits the fields and selects a unit on a server for its member. Each change is audited.

import { api, get } from "../api.js";
import { $, fill, h } from "../dom.js";
import { changed } from "./notice.js";

const FIELDS = [
  ["unitNum", "Unit", 32],
  ["name", "Name", 255],
  ["department", "Department", 255],
  ["district", "District", 255],
  ["subdivision", "Subdivision", 255],
  ["rank", "Rank", 255],
  ["group", "Group", 64],
];
const BASE = "/console/api/admin/units";
let servers = [];

export async function loadUnits(session) {
  servers = session.servers;
  const section = $("#units");
  if (!$("#unit-table", section)) {
    section.append(
      h(
        "table",
        { id: "unit-table", class: "table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Member"), h("th", {}, "#"), FIELDS.map(([, title]) => h("th", {}, title)), h("th", {}, "Selected on"), h("th", {}, ""))),
        h("tbody"),
      ),
    );
  }
  await reload();
}

async function reload() {
  const listed = await get(BASE);
  const rows = listed.units.map((unit) => {
    const inputs = FIELDS.map(([name, , max]) => h("input", { name, value: unit[name], maxlength: max, class: name === "unitNum" ? "short" : null }));
    const pick = h(
      "select",
      { name: "server", "aria-label": "Server" },
      servers.map((server) => h("option", { value: server.id }, server.name)),
    );
    const row = h(
      "tr",
      { dataset: { unit: unit.identId } },
      h("td", {}, unit.username),
      h("td", { class: "num" }, String(unit.identId)),
      inputs.map((input) => h("td", {}, input)),
      h(
        "td",
        { class: "selected-on" },
        unit.selectedOn.map((id) => h("span", { class: "badge linked" }, servers.find((server) => server.id === id)?.name ?? `server ${id}`)),
      ),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", class: "save primary", onclick: () => save(unit, inputs) }, "Save"),
        pick,
        h(
          "button",
          {
            type: "button",
            class: "select",
            onclick: () => changed(() => api("PUT", `${BASE}/${unit.identId}/selected`, { serverId: Number(pick.value) }), reload),
          },
          "Select",
        ),
      ),
    );
    return row;
  });
  fill($("#unit-table tbody"), rows.length ? rows : h("tr", {}, h("td", { class: "empty", colspan: FIELDS.length + 4 }, "No unit yet.")));
}

async function save(unit, inputs) {
  const body = {};
  for (const input of inputs) if (input.value !== unit[input.name]) body[input.name] = input.value;
  await changed(() => api("PATCH", `${BASE}/${unit.identId}`, body), reload);
}
