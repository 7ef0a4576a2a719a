// The servers section: names, heartbeats, push targets with their delivery log, map images, and the
// community's postal file.

import { del, get, patch, post, api } from "../api.js";
import { $, fill, h } from "../dom.js";
import { change, note, showOnce, upload, useSession, when } from "./uploads.js";

const ADMIN = "/console/api/admin";
const TILE_NAME = /^minimap_sea_[0-2]_[01]\.(png|webp|jpe?g|dds)$/i;

export async function loadServers(session) {
  useSession(session);
  await draw();
}

async function draw() {
  const section = $("#servers");
  let body = $("#servers-body");
  if (!body) {
    body = h("div", { id: "servers-body", class: "admin-servers" });
    section.append(h("div", { id: "servers-once", class: "once", hidden: true }), body);
  }
  const listing = await get(`${ADMIN}/servers`);
  fill(body, listing.servers.map(serverBlock), postalBlock(listing.postals));
}

const refresh = () => draw().catch((problem) => note(problem.message, false));

function serverBlock(server) {
  const id = server.id;
  const name = h("input", { name: "name", value: server.name, maxlength: 255, required: true, "aria-label": `Name of server ${id}` });
  const rename = h("form", { class: "row" }, name, h("button", { type: "submit" }, "Rename"));
  rename.onsubmit = async (event) => {
    event.preventDefault();
    await change(() => patch(`${ADMIN}/servers/${id}`, { name: name.value }), `Server ${id} renamed.`, refresh);
  };
  return h(
    "article",
    { class: "admin-server", dataset: { serverId: id } },
    h("h3", {}, `Server ${id}`),
    rename,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Players"),
      h("dd", { class: "players" }, server.playerCount ?? "–"),
      h("dt", {}, "Last heartbeat"),
      h("dd", { class: "heartbeat" }, when(server.lastHeartbeat)),
    ),
    pushBlock(server),
    mapBlock(server),
  );
}

function pushBlock(server) {
  const id = server.id;
  const push = server.push;
  const url = h("input", { name: "url", type: "url", value: push ? push.url : "", placeholder: "http://10.0.0.5:3232/sonorancad/event", maxlength: 2048, class: "wide-input", "aria-label": "Push URL" });
  const shape = h(
    "select",
    { name: "shape", "aria-label": "Body shape" },
    h("option", { value: "array", selected: !push || push.shape === "array" }, "data as a list (documented)"),
    h("option", { value: "object", selected: push && push.shape === "object" }, "data as an object (in-game receiver)"),
  );
  const enabled = h("input", { name: "enabled", type: "checkbox", checked: push ? push.enabled : true });
  const form = h(
    "form",
    { class: "row push-form" },
    url,
    shape,
    h("label", { class: "check" }, enabled, "enabled"),
    h("button", { type: "submit" }, push ? "Save push target" : "Create push target"),
  );
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = { url: url.value, shape: shape.value, enabled: enabled.checked };
    await change(() => api("PUT", `${ADMIN}/servers/${id}/push`, body), `Push target of server ${id} saved.`, async (answer) => {
      await refresh();
      if (!answer.signingSecret) return;
      const lines = `signing secret: ${answer.signingSecret}` + (answer.receiverKey ? `\nreceiver's API key: ${answer.receiverKey}` : "");
      showOnce($("#servers-once"), `Push target of server ${id}`, lines);
    });
  };
  const log = h("div", { class: "delivery-log", hidden: true });
  const tools = push
    ? h(
        "div",
        { class: "actions" },
        h("span", { class: "muted" }, push.receiverKey ? "events carry a receiver key" : "events carry no receiver key"),
        h("button", { type: "button", class: "rotate", onclick: () => rotate(id) }, "Rotate signing secret"),
        h("button", { type: "button", class: "show-log", onclick: () => showLog(id, log) }, "Delivery log"),
      )
    : null;
  return h("section", { class: "push" }, h("h4", {}, "Push target"), form, tools, log);
}

async function rotate(id) {
  await change(() => post(`${ADMIN}/servers/${id}/push/rotate`), `New signing secret for server ${id}.`, (answer) =>
    showOnce($("#servers-once"), `Push target of server ${id}`, `signing secret: ${answer.signingSecret}`),
  );
}

async function showLog(id, box) {
  let attempts;
  try {
    attempts = (await get(`${ADMIN}/servers/${id}/deliveries?limit=50`)).attempts;
  } catch (problem) {
    return note(problem.message, false);
  }
  const again = (body, message) => async () => {
    await change(() => post(`${ADMIN}/servers/${id}/redeliver`, body), message, () => showLog(id, box));
  };
  fill(
    box,
    h("div", { class: "actions" }, h("button", { type: "button", class: "redeliver-dead", onclick: again({ dead: true }, "Dead events queued again.") }, "Send every dead event again")),
    attempts.length === 0
      ? h("p", { class: "muted" }, "No delivery attempts yet.")
      : h(
          "table",
          { class: "table" },
          h("thead", {}, h("tr", {}, ["Time", "Event", "Type", "Status", "Latency", "State", "Error", ""].map((title) => h("th", {}, title)))),
          h(
            "tbody",
            {},
            attempts.map((attempt) =>
              h(
                "tr",
                { dataset: { eventId: attempt.eventId } },
                h("td", {}, when(attempt.time)),
                h("td", { class: "num" }, attempt.eventId),
                h("td", {}, attempt.eventType),
                h("td", { class: "num" }, attempt.statusCode ?? "–"),
                h("td", { class: "num" }, `${attempt.latencyMs} ms`),
                h("td", {}, attempt.state),
                h("td", { class: "muted" }, attempt.error || ""),
                h("td", {}, h("button", { type: "button", class: "redeliver", onclick: again({ eventId: attempt.eventId }, `Event ${attempt.eventId} queued again.`) }, "Send again")),
              ),
            ),
          ),
        ),
  );
  box.hidden = false;
}

function mapBlock(server) {
  const id = server.id;
  const map = server.map;
  const image = h("input", { type: "file", name: "image", accept: "image/png,image/jpeg,image/webp", "aria-label": "Map image file" });
  const bounds = h("input", { name: "bounds", placeholder: "X1,Y1,X2,Y2", "aria-label": "Corners of the image", maxlength: 200 });
  const imageForm = h("form", { class: "row map-image-form" }, image, bounds, h("button", { type: "submit" }, "Upload map image"));
  imageForm.onsubmit = async (event) => {
    event.preventDefault();
    const [file] = image.files;
    if (!file) return note("Choose an image file.", false);
    const query = `serverId=${id}&bounds=${encodeURIComponent(bounds.value)}`;
    await change(() => upload(`${ADMIN}/map/image?${query}`, file, file.type), `Map of server ${id} set.`, refresh);
  };
  const tiles = h("input", { type: "file", name: "tiles", multiple: true, accept: ".png,.webp,.jpg,.jpeg,.dds", "aria-label": "The six minimap_sea tiles" });
  const tileBounds = h("input", { name: "tile-bounds", placeholder: "the game's tile grid", "aria-label": "Corners of the tile set (optional)", maxlength: 200 });
  const tileForm = h("form", { class: "row map-tiles-form" }, tiles, tileBounds, h("button", { type: "submit" }, "Upload the six tiles"));
  tileForm.onsubmit = async (event) => {
    event.preventDefault();
    const files = [...tiles.files].filter((file) => TILE_NAME.test(file.name));
    if (files.length < 6) return note("Choose the six minimap_sea_{row}_{col} tile files.", false);
    const listing = files.map((file) => `${file.name}:${file.size}`).join(",");
    let query = `serverId=${id}&files=${encodeURIComponent(listing)}`;
    if (tileBounds.value.trim()) query += `&bounds=${encodeURIComponent(tileBounds.value)}`;
    await change(() => upload(`${ADMIN}/map/tiles?${query}`, new Blob(files)), `Map of server ${id} composed of its tiles.`, refresh);
  };
  const clear = async () => {
    await change(() => del(`${ADMIN}/servers/${id}/map`), `Map of server ${id} cleared.`, refresh);
  };
  return h(
    "section",
    { class: "map-settings" },
    h("h4", {}, "Map"),
    map
      ? h("p", { class: "map-now" }, `${map.width}×${map.height} image, corners ${map.bounds.join(", ")} `, h("button", { type: "button", class: "clear-map", onclick: clear }, "Clear map"))
      : h("p", { class: "map-now muted" }, "No map image: the console draws a grid."),
    imageForm,
    tileForm,
  );
}

function postalBlock(count) {
  const file = h("input", { type: "file", name: "postals", accept: ".json,application/json", "aria-label": "Postal file" });
  const form = h("form", { class: "row postal-form" }, file, h("button", { type: "submit" }, "Upload postal file"));
  form.onsubmit = async (event) => {
    event.preventDefault();
    const [chosen] = file.files;
    if (!chosen) return note("Choose the postal resource's JSON file.", false);
    await change(() => upload(`${ADMIN}/postals`, chosen, "application/json"), (answer) => `${answer.updated} postals stored.`, refresh);
  };
  return h(
    "article",
    { class: "admin-server postals" },
    h("h3", {}, "Postal file"),
    h("p", { class: "postal-count" }, `${count} postals, for every server of the community.`),
    form,
  );
}
