// The Members section: invite links (shown once), the links still open, and every account with its
// roles, linked ids and switches. Each change goes to /console/api/admin/members... and is audited.

import { api, get, post } from "../api.js";
import { $, fill, h } from "../dom.js";
import { changed } from "./notice.js";

const ROLES = ["admin", "dispatcher", "member"];
const BASE = "/console/api/admin/members";
let me = null; // the admin's own account uuid: their own row offers no disable, reset or demotion

export async function loadMembers(session) {
  me = session.accountUuid;
  const section = $("#members");
  if (!$("#invite-form", section)) section.append(...skeleton());
  await reload();
}

function skeleton() {
  const form = h(
    "form",
    { id: "invite-form", class: "admin-form inline" },
    h("span", { class: "muted" }, "Invite a new member with the roles:"),
    ROLES.map((role) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "role", value: role, checked: role === "member" }), role),
    ),
    h("label", {}, "Valid for (hours) ", h("input", { type: "number", name: "hours", min: 1, max: 168, value: 72, class: "short" })),
    h("button", { type: "submit", class: "primary" }, "Create invite link"),
  );
  form.addEventListener("submit", invite);
  return [
    form,
    h("div", { id: "invite-link", class: "link-once", hidden: true }),
    h("h3", {}, "Open links"),
    h("ul", { id: "invite-list", class: "list" }),
    h("h3", {}, "Accounts"),
    h(
      "table",
      { id: "member-table", class: "table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Username", "Roles", "Community user id", "Discord", "Roblox", "Units", "Last login", "Status", ""].map((title) =>
            h("th", {}, title),
          ),
        ),
      ),
      h("tbody"),
    ),
  ];
}

async function reload() {
  const listed = await get(BASE);
  drawInvites(listed.invites);
  drawMembers(listed.members);
}

function showLink(link, what) {
  const box = $("#invite-link");
  const field = h("input", { readonly: true, value: link.url, class: "grow", "aria-label": "Link" });
  fill(
    box,
    h("strong", {}, what),
    h("span", { class: "muted" }, ` (shown once; valid until ${new Date(link.expires).toLocaleString()})`),
    h(
      "div",
      { class: "row" },
      field,
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            field.select();
            navigator.clipboard?.writeText(link.url).catch(() => {});
          },
        },
        "Copy",
      ),
    ),
  );
  box.dataset.token = link.token;
  box.hidden = false;
  field.select();
}

async function invite(event) {
  event.preventDefault();
  const form = event.target;
  const roles = [...form.querySelectorAll("input[name=role]:checked")].map((box) => box.value);
  const hours = Number(form.elements.hours.value) || 72;
  await changed(
    () => post(`${BASE}/invites`, { roles, hours }),
    async (link) => {
      showLink(link, `Invite link for a new ${link.roles.join(" + ")}`);
      await reload();
    },
  );
}

function drawInvites(invites) {
  const items = invites.map((one) =>
    h(
      "li",
      { dataset: { invite: one.inviteId } },
      h("span", { class: "badge" }, one.kind === "reset" ? "password reset" : "invite"),
      h("span", { class: "grow" }, one.kind === "reset" ? `for ${one.username}` : `roles ${one.roles.join(", ")}`),
      h("span", { class: "muted" }, `by ${one.createdBy ?? "?"}, until ${new Date(one.expires).toLocaleString()}`),
      h(
        "button",
        { type: "button", class: "danger", onclick: () => changed(() => api("DELETE", `${BASE}/invites/${one.inviteId}`), reload) },
        "Revoke",
      ),
    ),
  );
  fill($("#invite-list"), items.length ? items : h("li", { class: "muted" }, "No open invite or reset link."));
}

function drawMembers(members) {
  fill(
    $("#member-table tbody"),
    members.map((one) => {
      const self = one.accountUuid === me;
      const boxes = ROLES.map((role) =>
        h(
          "label",
          { class: "check" },
          h("input", { type: "checkbox", name: "role", value: role, checked: one.roles.includes(role), disabled: self && role === "admin" }),
          role,
        ),
      );
      const ids = {
        communityUserId: h("input", { name: "communityUserId", value: one.communityUserId ?? "", maxlength: 255, placeholder: "license:…" }),
        discord: h("input", { name: "discord", value: one.discord ?? "", maxlength: 64, class: "short", inputmode: "numeric" }),
        roblox: h("input", { name: "roblox", value: one.roblox ?? "", maxlength: 64, class: "short", inputmode: "numeric" }),
      };
      const row = h(
        "tr",
        { dataset: { member: one.accountUuid, username: one.username }, class: one.disabled ? "disabled" : null },
        h("td", {}, one.username),
        h("td", { class: "roles" }, boxes),
        h("td", {}, ids.communityUserId),
        h("td", {}, ids.discord),
        h("td", {}, ids.roblox),
        h("td", { class: "num" }, String(one.identifiers)),
        h("td", { class: "muted" }, one.lastLogin ? new Date(one.lastLogin).toLocaleString() : "never"),
        h("td", { class: "status" }, one.disabled ? "disabled" : one.hasPassword ? "active" : "no password"),
        h(
          "td",
          { class: "actions" },
          h("button", { type: "button", class: "save primary", onclick: () => save(one, row) }, "Save"),
          self
            ? null
            : h(
                "button",
                {
                  type: "button",
                  class: "switch",
                  onclick: () => changed(() => api("PUT", `${BASE}/${one.accountUuid}/disabled`, { disabled: !one.disabled }), reload),
                },
                one.disabled ? "Enable" : "Disable",
              ),
          self
            ? null
            : h(
                "button",
                {
                  type: "button",
                  class: "reset",
                  onclick: () =>
                    changed(
                      () => post(`${BASE}/${one.accountUuid}/password-reset`, {}),
                      async (link) => {
                        showLink(link, `Password reset link for ${link.username}`);
                        await reload();
                      },
                    ),
                },
                "Reset password",
              ),
        ),
      );
      return row;
    }),
  );
}

async function save(one, row) {
  const roles = [...row.querySelectorAll("input[name=role]:checked")].map((box) => box.value);
  const body = { roles };
  for (const name of ["communityUserId", "discord", "roblox"]) {
    const value = row.querySelector(`input[name=${name}]`).value.trim();
    if (value !== (one[name] ?? "")) body[name] = value;
  }
  await changed(() => api("PATCH", `${BASE}/${one.accountUuid}`, body), reload);
}
