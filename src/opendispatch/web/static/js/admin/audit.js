// The audit log section: every admin action, newest first, a page at a time.

import { get } from "../api.js";
import { $, fill, h } from "../dom.js";

let before = null;

export async function loadAudit() {
  before = null;
  fill($("#audit-table tbody"));
  $("#audit-older").onclick = () => more();
  await more();
}

async function more() {
  const query = before ? `?limit=50&before=${before}` : "?limit=50";
  const page = await get(`/console/api/admin/audit${query}`);
  const body = $("#audit-table tbody");
  for (const entry of page.entries) {
    body.append(
      h(
        "tr",
        { dataset: { action: entry.action } },
        h("td", {}, new Date(entry.at).toLocaleString()),
        h("td", {}, entry.actor),
        h("td", {}, entry.action),
        h("td", {}, entry.target),
        h("td", { class: "muted" }, JSON.stringify(entry.detail)),
      ),
    );
  }
  before = page.before;
  $("#audit-older").hidden = before === null;
}
