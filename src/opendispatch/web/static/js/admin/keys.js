// The API keys section: create one with a label (the whole key shown once), list, revoke.

import { del, get, post } from "../api.js";
import { $, fill, h } from "../dom.js";
import { change, showOnce, useSession, when } from "./uploads.js";

const ADMIN = "/console/api/admin";

export async function loadKeys(session) {
  useSession(session);
  const section = $("#keys");
  if (!$("#keys-body")) {
    const label = h("input", { id: "key-label", name: "label", maxlength: 64, required: true, placeholder: "what it is for: in-game, discord bot…", "aria-label": "Label of the new key" });
    const form = h("form", { id: "key-create", class: "row" }, label, h("button", { type: "submit", class: "primary" }, "Create key"));
    form.onsubmit = async (event) => {
      event.preventDefault();
      await change(() => post(`${ADMIN}/keys`, { label: label.value }), "Key created.", async (made) => {
        label.value = "";
        await draw();
        showOnce($("#keys-once"), `API key "${made.key.label}"`, made.apiKey);
      });
    };
    const revoked = h("input", { id: "keys-revoked", type: "checkbox", onchange: () => draw() });
    section.append(
      form,
      h("div", { id: "keys-once", class: "once", hidden: true }),
      h("label", { class: "check" }, revoked, "show revoked keys"),
      h("div", { id: "keys-body" }),
    );
  }
  await draw();
}

async function draw() {
  const revoked = $("#keys-revoked").checked;
  const { keys } = await get(`${ADMIN}/keys${revoked ? "?revoked=true" : ""}`);
  fill(
    $("#keys-body"),
    h(
      "table",
      { class: "table", id: "keys-table" },
      h("thead", {}, h("tr", {}, ["Label", "Prefix", "Created", "Last used", "Revoked", ""].map((title) => h("th", {}, title)))),
      h(
        "tbody",
        {},
        keys.map((key) =>
          h(
            "tr",
            { dataset: { prefix: key.prefix } },
            h("td", {}, key.label || h("span", { class: "muted" }, "(no label)")),
            h("td", {}, h("code", {}, `${key.prefix}…`)),
            h("td", {}, when(key.created)),
            h("td", { class: "last-used" }, when(key.lastUsed)),
            h("td", {}, key.revoked ? when(key.revoked) : ""),
            h(
              "td",
              {},
              key.revoked
                ? null
                : h("button", { type: "button", class: "danger revoke", onclick: () => revoke(key) }, "Revoke"),
            ),
          ),
        ),
      ),
    ),
  );
}

async function revoke(key) {
  if (!window.confirm(`Revoke the key ${key.prefix}… (${key.label || "no label"})? Whatever uses it is refused from now on.`)) return;
  await change(() => del(`${ADMIN}/keys/${encodeURIComponent(key.prefix)}`), `Key ${key.prefix}… revoked.`, draw);
}
